//! `chancery cert ...`, `chancery sign` and `chancery signer keys ...`: certificate events
//! by a CA, status-at-time with an offline-checked proof, and signing with hosted keys.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chancery_ledger::tx::{CertEvent, CertEventKind, CertRef, RevocationReason, TxBody};
use chancery_ledger::verify::{verify_cert_status, CertStatusProof, CertVerdict};
use chancery_ledger::{Digest, DigestAlg, Hash, PublicKey};
use chancery_node::signer::hosted::{self, HostedKeys};
use chancery_node::signer::KeyFile;
use chancery_rpc::txs::{clock_nonce, sign_tx, tx_hex};
use chancery_rpc::types::TxStatus;
use chancery_rpc::{ChanceryApiClient, Client};

use crate::format::{parse_time, status_line, utc, verdict_lines};
use crate::node_cmds::{call, connect, runtime};

/// A certificate named on the command line.
pub struct CertArgs {
    /// Node RPC URL.
    pub rpc: String,
    /// CA id.
    pub ca: String,
    /// Serial, hex.
    pub serial: String,
}

impl CertArgs {
    fn parsed(&self) -> Result<CertRef> {
        CertRef::from_text(&self.ca, &self.serial).map_err(|e| anyhow::anyhow!("--{e}"))
    }
}

/// What a CA records.
pub enum CertAction {
    /// Issue: the certificate's digest, the subject key, the validity.
    Issue {
        /// `--cert FILE` (hashed with SHA-256) or `--cert-digest ALG:HEX`.
        cert_digest: Digest,
        /// The subject's public key (hex) or its digest (`ALG:HEX`).
        subject_key: String,
        /// Start of validity.
        not_before: String,
        /// End of validity.
        not_after: String,
    },
    /// Renew to a new end of validity.
    Renew {
        /// The new end.
        not_after: String,
    },
    /// Revoke.
    Revoke {
        /// Why.
        reason: String,
        /// From when (default: the latest block's time).
        effective: Option<String>,
    },
}

/// The digest a certificate names for a subject key: `ALG:HEX` as given, or SHA-256 of a
/// hex Ed25519 public key (as hosted keys print it).
fn subject_digest(text: &str) -> Result<Digest> {
    if text.contains(':') {
        return Digest::parse(text).map_err(anyhow::Error::msg);
    }
    let key = PublicKey::from_hex(text).map_err(|e| anyhow::anyhow!("--subject-key: {e}"))?;
    Ok(Digest::compute(DigestAlg::Sha256, &key.0))
}

/// The CA-side certificate digest: a file's SHA-256, or `ALG:HEX`.
pub fn cert_digest(file: Option<&Path>, digest: Option<&str>) -> Result<Digest> {
    match (file, digest) {
        (Some(path), None) => {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Ok(Digest::compute(DigestAlg::Sha256, &bytes))
        }
        (None, Some(text)) => Digest::parse(text).map_err(anyhow::Error::msg),
        _ => bail!("name the certificate: --cert FILE or --cert-digest ALG:HEX"),
    }
}

fn reason(text: &str) -> Result<RevocationReason> {
    serde_json::from_value(serde_json::Value::String(text.into())).with_context(|| {
        format!(
            "unknown reason {text:?}; use key_compromise, information_changed, illegal_use, organisation_dissolved or unspecified"
        )
    })
}

async fn latest_time(client: &Client) -> Result<u64> {
    let info = call(client.info().await)?;
    Ok(info.latest_time_ms.unwrap_or_else(chancery_node::clock::now_ms))
}

/// Polls until `hash` is committed; returns height and block time.
async fn wait_committed(client: &Client, hash: Hash) -> Result<(u64, u64)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match call(client.status(hash).await)?.status {
            TxStatus::Committed { height, block_time_ms, .. } => return Ok((height, block_time_ms)),
            TxStatus::Dropped { reason } => bail!("tx {hash} was dropped: {reason}"),
            _ if Instant::now() > deadline => bail!("tx {hash} not committed after 120 s"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Prints where a submitted tx stands: committed (after waiting) or submitted.
pub async fn report_submitted(client: &Client, hash: Hash, wait: bool) -> Result<()> {
    if wait {
        let (height, time) = wait_committed(client, hash).await?;
        println!("committed at height {height}, block time {}  tx {hash}", utc(time));
    } else {
        println!("submitted  tx {hash}");
    }
    Ok(())
}

/// The certificate and subject-key digests its first event recorded.
async fn issued_digests(client: &Client, args: &CertArgs) -> Result<(Digest, Digest)> {
    let history = call(client.cert_history(args.ca.clone(), args.serial.clone()).await)?;
    let Some(first) = history.events.first() else {
        bail!("certificate {}/{} has no events; issue it first", args.ca, args.serial);
    };
    let digest = |text: &str| Digest::parse(text).map_err(anyhow::Error::msg);
    Ok((digest(&first.cert_digest)?, digest(&first.subject_key)?))
}

/// `chancery cert issue|renew|revoke`.
pub fn cert_event(args: &CertArgs, key: &Path, action: CertAction, wait: bool) -> Result<()> {
    let cert = args.parsed()?;
    let key = KeyFile::load(key, None).with_context(|| format!("loading the CA key {}", key.display()))?;
    runtime()?.block_on(async {
        let client = connect(&args.rpc).await?;
        let chain = call(client.info().await)?.identity()?;
        let (cert_digest, subject_key, event) = match action {
            CertAction::Issue { cert_digest, subject_key, not_before, not_after } => (
                cert_digest,
                subject_digest(&subject_key)?,
                CertEventKind::Issued {
                    not_before_ms: parse_time(&not_before)?,
                    not_after_ms: parse_time(&not_after)?,
                },
            ),
            CertAction::Renew { not_after } => {
                let (cert_digest, subject_key) = issued_digests(&client, args).await?;
                (cert_digest, subject_key, CertEventKind::Renewed { not_after_ms: parse_time(&not_after)? })
            }
            CertAction::Revoke { reason: why, effective } => {
                let (cert_digest, subject_key) = issued_digests(&client, args).await?;
                let effective_ms = match effective {
                    Some(text) => parse_time(&text)?,
                    None => latest_time(&client).await?,
                };
                (cert_digest, subject_key, CertEventKind::Revoked { reason: reason(&why)?, effective_ms })
            }
        };
        let body = TxBody::CertEvent(CertEvent { ca: cert.ca, serial: cert.serial, cert_digest, subject_key, event });
        let tx = sign_tx(&key, &chain, body, clock_nonce());
        let hash = call(client.cert_submit(tx_hex(&tx)).await)?;
        report_submitted(&client, hash, wait).await
    })
}

/// A status proof checked against the genesis file at `genesis`.
pub fn verified_status(proof: &CertStatusProof, genesis: &Path) -> Result<CertVerdict> {
    let text = std::fs::read_to_string(genesis).with_context(|| format!("reading {}", genesis.display()))?;
    let genesis = chancery_genesis::Genesis::from_json(&text)?;
    verify_cert_status(proof, &genesis.trust_root()).context("NOT VERIFIED")
}

/// What a verified status proof showed.
pub fn print_verified(verdict: &CertVerdict) {
    println!("VERIFIED offline against the genesis:");
    print!("{}", verdict_lines(verdict));
}

/// `chancery cert status`.
pub fn cert_status(args: &CertArgs, at: Option<&str>, out: Option<&Path>, genesis: Option<&Path>) -> Result<()> {
    let cert = args.parsed()?;
    let at_ms = match at {
        Some(text) => parse_time(text)?,
        None => chancery_node::clock::now_ms(),
    };
    runtime()?.block_on(async {
        let client = connect(&args.rpc).await?;
        let answer = call(client.cert_status(cert.ca.to_string(), args.serial.clone(), at_ms).await)?;
        if let Some(path) = out {
            std::fs::write(path, answer.proof.to_json()).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote the status proof to {}", path.display());
        }
        match genesis {
            Some(path) => {
                let verdict = verified_status(&answer.proof, path)?;
                let asked = (cert.ca.to_string(), args.serial.to_lowercase(), at_ms);
                if (verdict.ca.clone(), verdict.serial.clone(), verdict.at_ms) != asked {
                    bail!(
                        "NOT VERIFIED: the node answered a proof for {}/{} at {}, not for what was asked",
                        verdict.ca,
                        verdict.serial,
                        verdict.at_ms
                    );
                }
                print_verified(&verdict);
            }
            None => println!(
                "certificate {}/{} at {}: {} (as of block {}; add --genesis to check the proof)",
                cert.ca,
                args.serial,
                utc(at_ms),
                status_line(&answer.status),
                answer.as_of_height
            ),
        }
        Ok(())
    })
}

/// `chancery cert history`.
pub fn cert_history(args: &CertArgs) -> Result<()> {
    let cert = args.parsed()?;
    runtime()?.block_on(async {
        let client = connect(&args.rpc).await?;
        let history = call(client.cert_history(cert.ca.to_string(), args.serial.clone()).await)?;
        if history.events.is_empty() {
            println!("certificate {}/{}: no events anchored", history.ca, history.serial);
        }
        for e in &history.events {
            println!("height {} ({})  {:?}  tx {}", e.height, utc(e.time_ms), e.event, e.tx_hash);
        }
        Ok(())
    })
}

/// The hosted keys directory of a home: its config's `[hosted] keys_dir`, else `hosted`.
fn keys_dir(home: &Path) -> Result<PathBuf> {
    let config_path = home.join("config.toml");
    if config_path.exists() {
        let config = chancery_node::config::Config::load(&config_path)?;
        return Ok(chancery_node::config::Config::resolve(home, &config.hosted.keys_dir));
    }
    Ok(home.join("hosted"))
}

/// `chancery signer keys new`.
pub fn keys_new(home: &Path, key_id: &str, ca: &str, serial: &str, passphrase_env: Option<String>) -> Result<()> {
    let cert = CertRef::from_text(ca, serial).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let passphrase = crate::node_cmds::passphrase(passphrase_env.as_deref())?;
    let dir = keys_dir(home)?;
    let info = hosted::create(&dir, key_id, &cert, passphrase.as_deref())?;
    println!("hosted key {} made in {} (its secret never leaves that directory)", info.key_id, dir.display());
    println!("  certificate  {}/{}", info.ca, info.serial);
    println!("  public key   {}", info.public_key);
    println!("  subject key  {} (the digest the CA names when it issues the certificate)", info.subject_key());
    Ok(())
}

/// `chancery signer keys list`.
pub fn keys_list(home: &Path, passphrase_env: Option<String>) -> Result<()> {
    let passphrase = crate::node_cmds::passphrase(passphrase_env.as_deref())?;
    let keys = HostedKeys::open(&keys_dir(home)?, passphrase.as_deref())?;
    for info in keys.list() {
        println!("{}  certificate {}/{}  public key {}", info.key_id, info.ca, info.serial, info.public_key);
    }
    Ok(())
}

/// Options of `chancery sign`.
pub struct SignArgs {
    /// Node RPC URL.
    pub rpc: String,
    /// The file.
    pub file: PathBuf,
    /// The hosted key.
    pub key: String,
    /// The token file.
    pub token_file: PathBuf,
    /// Evidence kind.
    pub kind: String,
    /// Related txs.
    pub refs: Vec<String>,
}

/// `chancery sign`.
pub fn sign(args: SignArgs) -> Result<()> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let digest = Digest::compute(DigestAlg::Sha256, &bytes);
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading the hosted-signing token {}", args.token_file.display()))?;
    let refs = args
        .refs
        .iter()
        .map(|r| Hash::from_hex(r).with_context(|| format!("--ref {r:?} is not a tx hash")))
        .collect::<Result<Vec<_>>>()?;
    runtime()?.block_on(async {
        let client = connect(&args.rpc).await?;
        let answer = call(
            client.sign_digest(args.key.clone(), digest.to_text(), args.kind.clone(), refs, token.trim().into()).await,
        )?;
        println!("{}  signed with hosted key {} ({})", args.file.display(), answer.key_id, answer.public_key);
        println!("  digest     {digest}");
        println!("  signature  {}", answer.signature);
        // The node answers only once the signing event is committed.
        report_submitted(&client, answer.tx_hash, true).await
    })
}
