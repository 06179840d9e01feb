//! `chancery gov ...` and `chancery keys rotate`: institutions propose and vote on
//! changes with their admin keys, and rotate their own keys without a vote.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::gov::{Change, GovProposal, GovVote, KeyRotation, RotatedKey};
use chancery_ledger::tx::{EvidenceKind, TxBody};
use chancery_ledger::validator::{CaId, Member, MemberRole, Name, Role, Validator};
use chancery_ledger::verify::{verify_proposal, ProposalProof, ProposalVerdict};
use chancery_ledger::{Hash, PublicKey};
use chancery_node::signer::KeyFile;
use chancery_rpc::txs::{clock_nonce, sign_tx, tx_hex};
use chancery_rpc::types::ProposalAnswer;
use chancery_rpc::{ChanceryApiClient, Client};
use clap::{Args, Subcommand};

use crate::cert_cmds::report_submitted;
use crate::node_cmds::{call, connect, passphrase, runtime, DEFAULT_RPC};

/// Blocks a proposal stays open by default: about a day at one block a second.
const EXPIRES_IN_DEFAULT: u64 = 100_000;

/// Who signs a governance tx, where it goes, and whether to wait.
#[derive(Args)]
pub struct AdminArgs {
    /// The institution's admin key file.
    #[arg(long)]
    key: PathBuf,
    /// Environment variable holding the admin key's passphrase, for an encrypted key.
    #[arg(long)]
    passphrase_env: Option<String>,
    /// Node RPC URL.
    #[arg(long, default_value = DEFAULT_RPC)]
    rpc: String,
    /// Wait until the tx is committed.
    #[arg(long)]
    wait: bool,
}

/// A proposal's signer and lifetime.
#[derive(Args)]
pub struct ProposeArgs {
    #[command(flatten)]
    admin: AdminArgs,
    /// Blocks after the current height the proposal stays open for votes.
    #[arg(long, default_value_t = EXPIRES_IN_DEFAULT)]
    expires_in: u64,
}

/// `chancery gov`.
#[derive(Subcommand)]
pub enum GovCommand {
    /// Propose a change (signed with an admin key); prints the proposal id.
    Propose {
        #[command(subcommand)]
        change: ProposeCommand,
    },
    /// Vote on a proposal with an admin key.
    Vote {
        /// The proposal id (64 hex).
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
        /// Approve the change.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        /// Reject the change.
        #[arg(long)]
        reject: bool,
    },
    /// A proposal: its change, votes with the power each counts, and status.
    Show {
        /// The proposal id (64 hex).
        id: String,
        /// Node RPC URL.
        #[arg(long, default_value = DEFAULT_RPC)]
        rpc: String,
        /// Write the proof of its record (as of the latest block) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Check that proof offline against this genesis file before printing.
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Check a saved proposal proof offline against the genesis: who proposed and voted
    /// what, and where the proposal stood as of the proof's block.
    Verify {
        /// The proof (JSON), as `gov show --out` wrote it.
        proof: PathBuf,
        /// The chain's genesis file: the trust root.
        #[arg(long)]
        genesis: PathBuf,
    },
    /// Every proposal, or only the pending ones.
    List {
        /// Only proposals still open for votes.
        #[arg(long)]
        pending: bool,
        /// Node RPC URL.
        #[arg(long, default_value = DEFAULT_RPC)]
        rpc: String,
    },
}

/// The changes a proposal can make.
#[derive(Subcommand)]
pub enum ProposeCommand {
    /// Register an integrator.
    AddMember {
        #[command(flatten)]
        propose: ProposeArgs,
        /// The member's name.
        #[arg(long)]
        name: String,
        /// The member's public key (hex).
        #[arg(long)]
        member_key: String,
        /// The evidence kinds it may anchor, comma separated.
        #[arg(long, value_delimiter = ',', required = true)]
        kinds: Vec<String>,
    },
    /// Replace a member's name and what it may submit.
    UpdateMember {
        #[command(flatten)]
        propose: ProposeArgs,
        /// The member's public key (hex).
        #[arg(long)]
        member_key: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// For an integrator: the evidence kinds it may anchor, comma separated.
        #[arg(long, value_delimiter = ',', conflicts_with = "ca")]
        kinds: Vec<String>,
        /// For a certificate authority: its CA id.
        #[arg(long)]
        ca: Option<String>,
    },
    /// Remove a member.
    RemoveMember {
        #[command(flatten)]
        propose: ProposeArgs,
        /// The member's public key (hex).
        #[arg(long)]
        member_key: String,
    },
    /// Register a certificate authority: its owner's key and its CA id.
    AddCa {
        #[command(flatten)]
        propose: ProposeArgs,
        /// The CA's name.
        #[arg(long)]
        name: String,
        /// The CA owner's public key (hex).
        #[arg(long)]
        member_key: String,
        /// The CA id its certificate events carry.
        #[arg(long)]
        ca: String,
    },
    /// Remove a certificate authority's owner.
    RemoveCa {
        #[command(flatten)]
        propose: ProposeArgs,
        /// The CA id.
        #[arg(long)]
        ca: String,
    },
    /// Add a validator from the height after the change executes.
    AddValidator {
        #[command(flatten)]
        propose: ProposeArgs,
        /// The institution's name.
        #[arg(long)]
        name: String,
        /// operator, notary, court, arbitration or observer.
        #[arg(long)]
        role: String,
        /// Its consensus public key (hex).
        #[arg(long)]
        consensus_key: String,
        /// Its node's p2p public key (hex).
        #[arg(long)]
        p2p_key: String,
        /// Its admin public key (hex).
        #[arg(long)]
        admin_key: String,
        /// Voting power (0 for an observer).
        #[arg(long)]
        power: u64,
    },
    /// Remove a validator by name.
    RemoveValidator {
        #[command(flatten)]
        propose: ProposeArgs,
        /// The institution's name.
        #[arg(long)]
        name: String,
    },
    /// Set a validator's voting power.
    SetPower {
        #[command(flatten)]
        propose: ProposeArgs,
        /// The institution's name.
        #[arg(long)]
        name: String,
        /// Its new power.
        #[arg(long)]
        power: u64,
    },
    /// Change chain parameters; those not given keep their current values.
    SetParams {
        #[command(flatten)]
        propose: ProposeArgs,
        /// Most txs in a block.
        #[arg(long)]
        max_block_txs: Option<u32>,
        /// Largest block, bytes.
        #[arg(long)]
        max_block_bytes: Option<u32>,
        /// Largest tx, bytes.
        #[arg(long)]
        max_tx_bytes: Option<u32>,
        /// Largest difference of a block's time from a validator's clock, ms.
        #[arg(long)]
        max_clock_drift_ms: Option<u64>,
        /// Propose timeout, ms.
        #[arg(long)]
        propose_ms: Option<u64>,
        /// Prevote timeout, ms.
        #[arg(long)]
        prevote_ms: Option<u64>,
        /// Precommit timeout, ms.
        #[arg(long)]
        precommit_ms: Option<u64>,
        /// Pause after a commit, ms.
        #[arg(long)]
        commit_ms: Option<u64>,
        /// How long an idle chain waits for a tx before it makes an empty block, ms.
        #[arg(long)]
        empty_block_interval_ms: Option<u64>,
        /// Added to each timeout per round, ms.
        #[arg(long)]
        round_increase_ms: Option<u64>,
    },
}

/// `chancery keys rotate`: the new key, one of three.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct NewKey {
    /// The new consensus key file (the node's signer must hold it from the effective
    /// height on: see docs/OPERATIONS.md).
    #[arg(long)]
    consensus_key: Option<PathBuf>,
    /// The new p2p key file.
    #[arg(long)]
    p2p_key: Option<PathBuf>,
    /// The new admin key file.
    #[arg(long)]
    admin_key: Option<PathBuf>,
}

fn public_key(text: &str, what: &str) -> Result<PublicKey> {
    PublicKey::from_hex(text).map_err(|e| anyhow::anyhow!("--{what}: {e}"))
}

fn hash_arg(text: &str) -> Result<Hash> {
    Hash::from_hex(text.trim()).map_err(|e| anyhow::anyhow!("proposal id {text:?}: {e}"))
}

/// A member's role from `--kinds` or `--ca`.
pub fn member_role(kinds: &[String], ca: Option<&str>) -> Result<MemberRole> {
    if let Some(ca) = ca {
        return Ok(MemberRole::CertificateAuthority { ca: CaId::new(ca)? });
    }
    let kinds = kinds
        .iter()
        .map(|k| {
            serde_json::from_value::<EvidenceKind>(serde_json::Value::String(k.clone()))
                .with_context(|| format!("unknown evidence kind {k:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(MemberRole::Integrator { kinds: BoundedVec::new(kinds)? })
}

fn member(name: &str, key: &str, role: MemberRole) -> Result<Member> {
    Ok(Member { name: Name::new(name)?, key: public_key(key, "member-key")?, role })
}

/// The change a `propose` subcommand names, and its signer.
fn change_of(command: ProposeCommand, client_params: chancery_ledger::Params) -> Result<(ProposeArgs, Change)> {
    Ok(match command {
        ProposeCommand::AddMember { propose, name, member_key, kinds } => {
            (propose, Change::AddMember(member(&name, &member_key, member_role(&kinds, None)?)?))
        }
        ProposeCommand::UpdateMember { propose, member_key, name, kinds, ca } => {
            (propose, Change::UpdateMember(member(&name, &member_key, member_role(&kinds, ca.as_deref())?)?))
        }
        ProposeCommand::RemoveMember { propose, member_key } => {
            (propose, Change::RemoveMember(public_key(&member_key, "member-key")?))
        }
        ProposeCommand::AddCa { propose, name, member_key, ca } => {
            (propose, Change::AddMember(member(&name, &member_key, member_role(&[], Some(&ca))?)?))
        }
        ProposeCommand::RemoveCa { propose, ca } => (propose, Change::RemoveCa(CaId::new(&ca)?)),
        ProposeCommand::AddValidator { propose, name, role, consensus_key, p2p_key, admin_key, power } => {
            let role: Role = serde_json::from_value(serde_json::Value::String(role.clone())).with_context(|| {
                format!("unknown role {role:?}: use operator, notary, court, arbitration or observer")
            })?;
            let validator = Validator {
                name: Name::new(&name)?,
                role,
                consensus_key: public_key(&consensus_key, "consensus-key")?,
                p2p_key: public_key(&p2p_key, "p2p-key")?,
                admin_key: public_key(&admin_key, "admin-key")?,
                power,
            };
            (propose, Change::AddValidator(validator))
        }
        ProposeCommand::RemoveValidator { propose, name } => (propose, Change::RemoveValidator(Name::new(&name)?)),
        ProposeCommand::SetPower { propose, name, power } => {
            (propose, Change::SetPower { name: Name::new(&name)?, power })
        }
        ProposeCommand::SetParams {
            propose,
            max_block_txs,
            max_block_bytes,
            max_tx_bytes,
            max_clock_drift_ms,
            propose_ms,
            prevote_ms,
            precommit_ms,
            commit_ms,
            empty_block_interval_ms,
            round_increase_ms,
        } => {
            let mut p = client_params;
            let t = &mut p.timeouts;
            t.propose_ms = propose_ms.unwrap_or(t.propose_ms);
            t.prevote_ms = prevote_ms.unwrap_or(t.prevote_ms);
            t.precommit_ms = precommit_ms.unwrap_or(t.precommit_ms);
            t.commit_ms = commit_ms.unwrap_or(t.commit_ms);
            t.round_increase_ms = round_increase_ms.unwrap_or(t.round_increase_ms);
            p.max_block_txs = max_block_txs.unwrap_or(p.max_block_txs);
            p.max_block_bytes = max_block_bytes.unwrap_or(p.max_block_bytes);
            p.max_tx_bytes = max_tx_bytes.unwrap_or(p.max_tx_bytes);
            p.max_clock_drift_ms = max_clock_drift_ms.unwrap_or(p.max_clock_drift_ms);
            p.empty_block_interval_ms = empty_block_interval_ms.unwrap_or(p.empty_block_interval_ms);
            p.validate()?;
            (propose, Change::SetParams(p))
        }
    })
}

/// Signs `body` with the admin key and submits it through `gov_submit`; returns its hash.
async fn submit(client: &Client, admin: &AdminArgs, body: TxBody) -> Result<Hash> {
    let secret = passphrase(admin.passphrase_env.as_deref())?;
    let key = KeyFile::load(&admin.key, secret.as_deref())
        .with_context(|| format!("loading the admin key {}", admin.key.display()))?;
    let chain = call(client.info().await)?.identity()?;
    let tx = sign_tx(&key, &chain, body, clock_nonce());
    call(client.gov_submit(tx_hex(&tx)).await)
}

/// `chancery gov ...`.
pub fn gov(command: GovCommand) -> Result<()> {
    runtime()?.block_on(async {
        match command {
            GovCommand::Propose { change } => propose(change).await,
            GovCommand::Vote { id, admin, approve, reject } => {
                if approve == reject {
                    bail!("give exactly one of --approve and --reject");
                }
                let client = connect(&admin.rpc).await?;
                let body = TxBody::Vote(GovVote { proposal: hash_arg(&id)?, approve });
                let hash = submit(&client, &admin, body).await?;
                report_submitted(&client, hash, admin.wait).await?;
                if admin.wait {
                    print!("{}", show_text(&call(client.gov_proposal(hash_arg(&id)?).await)?));
                }
                Ok(())
            }
            GovCommand::Show { id, rpc, out, genesis } => {
                let client = connect(&rpc).await?;
                let answer = call(client.gov_proposal(hash_arg(&id)?).await)?;
                let proof = answer.proof.as_ref().context("the node answered without a proof")?;
                if let Some(path) = &out {
                    std::fs::write(path, proof.to_json()).with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote the proof of proposal {} to {}", answer.id, path.display());
                }
                match &genesis {
                    // Checked: what is printed is what the proof shows, not the node's
                    // summary.
                    Some(path) => {
                        let verdict = verified_proposal(proof, path)?;
                        if verdict.id != answer.id || verdict.record.is_none() {
                            bail!("NOT VERIFIED: the node's proof is not of proposal {}", answer.id);
                        }
                        print!("{}", verdict_text(&verdict));
                    }
                    None => print!("{}", show_text(&answer)),
                }
                Ok(())
            }
            GovCommand::Verify { proof, genesis } => {
                let text = std::fs::read_to_string(&proof).with_context(|| format!("reading {}", proof.display()))?;
                let proof = ProposalProof::from_json(&text).context("NOT VERIFIED")?;
                let verdict = verified_proposal(&proof, &genesis)?;
                print!("{}", verdict_text(&verdict));
                Ok(())
            }
            GovCommand::List { pending, rpc } => {
                let client = connect(&rpc).await?;
                let mut after = None;
                loop {
                    let page = call(client.gov_proposals(Some(pending), after).await)?;
                    for answer in &page {
                        println!("{}  {:<16} {}", answer.id, answer.change.name(), status_text(answer));
                    }
                    match page.last() {
                        Some(last) => after = Some(last.id),
                        None => return Ok(()),
                    }
                }
            }
        }
    })
}

async fn propose(command: ProposeCommand) -> Result<()> {
    let rpc = match &command {
        ProposeCommand::AddMember { propose, .. }
        | ProposeCommand::UpdateMember { propose, .. }
        | ProposeCommand::RemoveMember { propose, .. }
        | ProposeCommand::AddCa { propose, .. }
        | ProposeCommand::RemoveCa { propose, .. }
        | ProposeCommand::AddValidator { propose, .. }
        | ProposeCommand::RemoveValidator { propose, .. }
        | ProposeCommand::SetPower { propose, .. }
        | ProposeCommand::SetParams { propose, .. } => propose.admin.rpc.clone(),
    };
    let client = connect(&rpc).await?;
    let info = call(client.info().await)?;
    let (propose, change) = change_of(command, info.params.clone())?;
    let expires_at_height = info.blocks.saturating_add(propose.expires_in);
    let body = TxBody::Propose(GovProposal { change, expires_at_height });
    let id = submit(&client, &propose.admin, body).await?;
    // The id alone on its own line, for scripts.
    println!("{id}");
    if propose.admin.wait {
        report_submitted(&client, id, true).await?;
    }
    Ok(())
}

/// `chancery keys rotate`.
pub fn rotate(admin: AdminArgs, new_key: NewKey) -> Result<()> {
    let load = |path: &PathBuf| -> Result<PublicKey> {
        KeyFile::public_key(path).with_context(|| format!("reading the new key {}", path.display()))
    };
    let key = match (&new_key.consensus_key, &new_key.p2p_key, &new_key.admin_key) {
        (Some(path), None, None) => RotatedKey::Consensus(load(path)?),
        (None, Some(path), None) => RotatedKey::P2p(load(path)?),
        (None, None, Some(path)) => RotatedKey::Admin(load(path)?),
        _ => bail!("give exactly one of --consensus-key, --p2p-key and --admin-key"),
    };
    runtime()?.block_on(async {
        let client = connect(&admin.rpc).await?;
        let hash = submit(&client, &admin, TxBody::RotateKey(KeyRotation { key })).await?;
        println!(
            "rotating the {} key to {}: takes effect at the height after the block that holds it",
            key.which(),
            key.key()
        );
        report_submitted(&client, hash, admin.wait).await
    })
}

/// A proposal proof checked against the genesis file at `genesis`.
fn verified_proposal(proof: &ProposalProof, genesis: &std::path::Path) -> Result<ProposalVerdict> {
    let text = std::fs::read_to_string(genesis).with_context(|| format!("reading {}", genesis.display()))?;
    let genesis = chancery_genesis::Genesis::from_json(&text)?;
    verify_proposal(proof, &genesis.trust_root()).context("NOT VERIFIED")
}

fn verdict_text(verdict: &ProposalVerdict) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "VERIFIED offline against the genesis: as of block {} (hash {}, {}), signed by validators with power {} of {}",
        verdict.as_of_height,
        verdict.as_of_block_hash,
        crate::format::utc(verdict.as_of_time_ms),
        verdict.attestation.signed_power,
        verdict.attestation.total_power
    );
    match (&verdict.record, &verdict.status) {
        (Some(record), Some(status)) => {
            let change = serde_json::to_string(&record.proposal.change).unwrap_or_else(|e| format!("({e})"));
            let _ = writeln!(out, "  proposal  {} {} {change}", verdict.id, record.proposal.change.name());
            let _ = writeln!(out, "  proposed  at height {} by admin key {}", record.height, record.proposer);
            let _ = writeln!(out, "  status    {}", status_line(status, record.proposal.expires_at_height));
            for vote in record.votes.iter() {
                let verdict = if vote.approve { "approve" } else { "reject " };
                let _ =
                    writeln!(out, "  vote      {verdict} by admin key {} at height {}", vote.admin_key, vote.height);
            }
        }
        _ => {
            let _ = writeln!(out, "  proposal  {}: no such proposal was on chain as of that block", verdict.id);
        }
    }
    out
}

fn status_text(answer: &ProposalAnswer) -> String {
    status_line(&answer.status, answer.expires_at_height)
}

fn status_line(status: &chancery_ledger::gov::ProposalStatus, expires_at_height: u64) -> String {
    use chancery_ledger::gov::ProposalStatus;
    match status {
        ProposalStatus::Pending => format!("pending until height {expires_at_height}"),
        ProposalStatus::Executed { height } => format!("executed at height {height}"),
        ProposalStatus::Failed { height, reason } => format!("approved at height {height} but not applied: {reason}"),
        ProposalStatus::Rejected { height } => format!("rejected at height {height}"),
        ProposalStatus::Expired { expires_at_height } => format!("expired after height {expires_at_height}"),
    }
}

fn show_text(answer: &ProposalAnswer) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "proposal {}", answer.id);
    let change = serde_json::to_string(&answer.change).unwrap_or_else(|e| format!("({e})"));
    let _ = writeln!(out, "  change    {} {change}", answer.change.name());
    let proposer = answer.proposer_name.clone().unwrap_or_else(|| "no longer a validator".into());
    let _ = writeln!(out, "  proposed  at height {} by {proposer} (admin key {})", answer.height, answer.proposer);
    let _ = writeln!(out, "  status    {}", status_text(answer));
    for vote in &answer.votes {
        let verdict = if vote.approve { "approve" } else { "reject " };
        let who = vote.validator.clone().unwrap_or_else(|| "no longer counts".into());
        let _ = writeln!(
            out,
            "  vote      {verdict} {who}, power {} (height {}, admin key {})",
            vote.power, vote.height, vote.admin_key
        );
    }
    let t = &answer.tally;
    let _ = writeln!(
        out,
        "  tally     approve {} / reject {} of {} (more than two thirds executes it)",
        t.approve, t.reject, t.total
    );
    out
}
