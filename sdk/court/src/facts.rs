//! The facts a verified proof establishes, each with its label and value in English and
//! Simplified Chinese: what the page, the evidence reports and the command line show.
//! One list for every medium, so that what a court reads is what the proof proved.

use chancery_ledger::types::ids::EvidenceKind;
use chancery_ledger::types::tx::{CertEventKind, RevocationReason, SigningMethod};
use chancery_ledger::verify::{Attestation, CertStatus, CertVerdict, Record, Report, TrustBasis, VerifyError};
use chancery_ledger::Role;
use serde::Serialize;

use crate::time::utc;

/// A text in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    /// English.
    pub en: String,
    /// Simplified Chinese.
    pub zh: String,
}

impl Text {
    /// A text from its two languages.
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Self {
        Text { en: en.into(), zh: zh.into() }
    }

    /// The same text (numbers, hashes, names) in both languages.
    pub fn same(text: impl Into<String>) -> Self {
        let text = text.into();
        Text { en: text.clone(), zh: text }
    }
}

/// One fact: a label and a value, and whether a reader must be warned about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// A stable name for programs ("digest", "height", ...).
    pub key: &'static str,
    /// What the fact is.
    pub label: Text,
    /// Its value.
    pub value: Text,
    /// A fact the reader must not miss (a certificate not valid, its status not proven).
    pub warning: bool,
}

fn fact(key: &'static str, label: Text, value: Text) -> Fact {
    Fact { key, label, value, warning: false }
}

fn warning(key: &'static str, label: Text, value: Text) -> Fact {
    Fact { key, label, value, warning: true }
}

/// What a verified proof bundle is about, in one line (under the verdict).
pub fn bundle_headline(r: &Report) -> Text {
    Text::new(
        format!("tx {} is committed on chain {}", r.tx_hash, r.chain_id),
        format!("交易 {} 已记录在链 {} 上", r.tx_hash, r.chain_id),
    )
}

/// What a verified certificate status proof is about, in one line.
pub fn cert_headline(v: &CertVerdict) -> Text {
    let status = status_text(&v.status);
    Text::new(
        format!("certificate {}/{} was {} at {}", v.ca, v.serial, status.en, utc(v.at_ms)),
        format!("证书 {}/{} 在 {} 的状态为{}", v.ca, v.serial, utc(v.at_ms), status.zh),
    )
}

/// An evidence kind's name.
pub fn kind_text(kind: &EvidenceKind) -> Text {
    let zh = match kind {
        EvidenceKind::Document => "文件",
        EvidenceKind::SigningEvent => "签署事件",
        EvidenceKind::IdentityCheck => "身份核验",
        EvidenceKind::IntentCheck => "签署意愿核验",
        EvidenceKind::EvidencePackage => "证据包",
        EvidenceKind::TimestampToken => "时间戳凭证",
        EvidenceKind::Notarization => "公证",
        EvidenceKind::ForensicOpinion => "司法鉴定意见",
        EvidenceKind::CourtFiling => "法院文书",
        EvidenceKind::Custom(n) => return Text::new(kind.name(), format!("自定义类型 {n}")),
    };
    Text::new(kind.name().replace('_', " "), zh)
}

/// A role's name.
pub fn role_text(role: Role) -> Text {
    let zh = match role {
        Role::Operator => "平台运营方",
        Role::Notary => "公证处",
        Role::Court => "法院",
        Role::Arbitration => "仲裁委员会",
        Role::Observer => "观察节点",
    };
    Text::new(role.name(), zh)
}

fn reason_text(reason: &RevocationReason) -> Text {
    match reason {
        RevocationReason::KeyCompromise => Text::new("key compromise", "私钥泄露"),
        RevocationReason::InformationChanged => Text::new("information changed", "信息变更"),
        RevocationReason::IllegalUse => Text::new("illegal use", "非法使用"),
        RevocationReason::OrganisationDissolved => Text::new("organisation dissolved", "机构解散"),
        RevocationReason::Unspecified => Text::new("no reason given", "未说明原因"),
    }
}

/// A certificate status as a person reads it.
pub fn status_text(status: &CertStatus) -> Text {
    match status {
        CertStatus::Valid => Text::new("VALID", "有效"),
        CertStatus::NotYetValid => Text::new("NOT YET VALID", "尚未生效"),
        CertStatus::Expired => Text::new("EXPIRED", "已过期"),
        CertStatus::Revoked { reason, effective_ms } => {
            let reason = reason_text(reason);
            Text::new(
                format!("REVOKED ({}) effective {}", reason.en, utc(*effective_ms)),
                format!("已吊销（{}），自 {} 起生效", reason.zh, utc(*effective_ms)),
            )
        }
        CertStatus::Unknown => {
            Text::new("UNKNOWN (no event of this certificate is anchored)", "未知（该证书没有任何已锚定的事件）")
        }
    }
}

fn event_text(event: &CertEventKind) -> Text {
    match event {
        CertEventKind::Issued { not_before_ms, not_after_ms } => Text::new(
            format!("issued, valid from {} until {}", utc(*not_before_ms), utc(*not_after_ms)),
            format!("签发，有效期自 {} 至 {}", utc(*not_before_ms), utc(*not_after_ms)),
        ),
        CertEventKind::Renewed { not_after_ms } => {
            Text::new(format!("renewed until {}", utc(*not_after_ms)), format!("续期至 {}", utc(*not_after_ms)))
        }
        CertEventKind::Revoked { reason, effective_ms } => {
            let reason = reason_text(reason);
            Text::new(
                format!("revoked ({}) effective {}", reason.en, utc(*effective_ms)),
                format!("吊销（{}），自 {} 起生效", reason.zh, utc(*effective_ms)),
            )
        }
    }
}

/// The validators that signed, one per line, and their power against the total.
fn attestation_facts(out: &mut Vec<Fact>, key: &'static str, a: &Attestation) {
    let noun = if a.validators.len() == 1 { "validator" } else { "validators" };
    let mut en = format!("{} {noun}, power {} of {}", a.validators.len(), a.signed_power, a.total_power);
    let mut zh = format!("{} 个验证节点，投票权 {} / {}", a.validators.len(), a.signed_power, a.total_power);
    for v in &a.validators {
        let role = role_text(v.role);
        en.push_str(&format!("\n{} ({}, power {})", v.name, role.en, v.power));
        zh.push_str(&format!("\n{}（{}，投票权 {}）", v.name, role.zh, v.power));
    }
    out.push(fact(key, Text::new("Attested by", "签名见证"), Text::new(en, zh)));
}

/// The facts of a certificate status verdict.
pub fn cert_facts(v: &CertVerdict) -> Vec<Fact> {
    let mut out = Vec::new();
    let status = status_text(&v.status);
    let label = Text::new(format!("Certificate at {}", utc(v.at_ms)), format!("证书在 {} 的状态", utc(v.at_ms)));
    let value =
        Text::new(format!("{}/{}: {}", v.ca, v.serial, status.en), format!("{}/{}：{}", v.ca, v.serial, status.zh));
    if v.status.is_valid() {
        out.push(fact("certificate_status", label, value));
    } else {
        out.push(warning("certificate_status", label, value));
        out.push(warning(
            "certificate_warning",
            Text::new("Warning", "警告"),
            Text::new("the certificate was NOT valid at that time", "该证书在此时间点无效"),
        ));
    }
    out.push(fact(
        "certificate_as_of",
        Text::new("Proven as of", "证明所依据的区块"),
        Text::new(
            format!("block {} ({}, hash {})", v.as_of_height, utc(v.as_of_time_ms), v.as_of_block_hash),
            format!("区块 {}（{}，哈希 {}）", v.as_of_height, utc(v.as_of_time_ms), v.as_of_block_hash),
        ),
    ));
    let mut en = format!("{} anchored", v.events.len());
    let mut zh = format!("共 {} 个已锚定事件", v.events.len());
    for e in &v.events {
        let event = event_text(&e.event);
        en.push_str(&format!("\nheight {} ({}): {}", e.height, utc(e.time_ms), event.en));
        zh.push_str(&format!("\n区块 {}（{}）：{}", e.height, utc(e.time_ms), event.zh));
    }
    out.push(fact("certificate_events", Text::new("Certificate events", "证书事件"), Text::new(en, zh)));
    attestation_facts(&mut out, "certificate_attested_by", &v.attestation);
    out
}

fn record_facts(out: &mut Vec<Fact>, record: &Record) {
    let label = Text::new("Record", "记录");
    match record {
        Record::Evidence { kind, digest, refs, claimed_time_ms, cert, signature } => {
            let kind = kind_text(kind);
            out.push(fact("record", label, Text::new(format!("{} evidence", kind.en), format!("{}证据", kind.zh))));
            out.push(fact("digest", Text::new("Anchored digest", "锚定的摘要"), Text::same(digest.to_text())));
            if !refs.is_empty() {
                let list = refs.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n");
                out.push(fact("refs", Text::new("Linked records", "关联记录"), Text::same(list)));
            }
            if let Some(cert) = cert {
                let named = format!("{}/{}", cert.ca, hex::encode(cert.serial.as_bytes()));
                out.push(fact("cert", Text::new("Names certificate", "所用证书"), Text::same(named)));
            }
            if let Some(signature) = signature {
                let (en, zh) = match &signature.method {
                    SigningMethod::HostedEd25519 { public_key, .. } => (
                        format!("hash {}, made by a hosted Ed25519 key {} (verified over the digest)", signature.hash, public_key.to_hex()),
                        format!("哈希 {}，由托管 Ed25519 密钥 {} 签署（已对摘要验证签名）", signature.hash, public_key.to_hex()),
                    ),
                    SigningMethod::External => (
                        format!("hash {}, made by an external signing system", signature.hash),
                        format!("哈希 {}，由外部签名系统签署", signature.hash),
                    ),
                };
                out.push(fact("signature", Text::new("Document signature", "文档签名"), Text::new(en, zh)));
            }
            if let Some(ms) = claimed_time_ms {
                out.push(fact(
                    "claimed_time",
                    Text::new("Claimed time", "提交方声明的时间"),
                    Text::new(
                        format!("{} (claimed by the submitter, not attested)", utc(*ms)),
                        format!("{}（由提交方声明，未经见证）", utc(*ms)),
                    ),
                ));
            }
        }
        Record::CertEvent { ca, serial, event } => {
            let event = event_text(event);
            out.push(fact(
                "record",
                label,
                Text::new(
                    format!("certificate event of CA {ca}, serial {serial}: {}", event.en),
                    format!("CA {ca} 证书（序列号 {serial}）事件：{}", event.zh),
                ),
            ));
        }
        Record::Proposal { change, expires_at_height } => out.push(fact(
            "record",
            label,
            Text::new(
                format!("governance proposal: {change}, open until height {expires_at_height}"),
                format!("治理提案：{change}，投票截至区块 {expires_at_height}"),
            ),
        )),
        Record::Vote { proposal, approve } => {
            let (en, zh) = if *approve { ("approve", "赞成") } else { ("reject", "反对") };
            out.push(fact(
                "record",
                label,
                Text::new(
                    format!("governance vote: {en} proposal {proposal}"),
                    format!("治理投票：{zh}提案 {proposal}"),
                ),
            ));
        }
        Record::KeyRotation { key, new_key } => out.push(fact(
            "record",
            label,
            Text::new(format!("key rotation: new {key} key {new_key}"), format!("密钥轮换：新的 {key} 密钥 {new_key}")),
        )),
        Record::Misbehaviour { validator, height, round } => out.push(fact(
            "record",
            label,
            Text::new(
                format!("misbehaviour: validator {validator} signed two conflicting messages at height {height}, round {round}"),
                format!("违规证据：验证节点 {validator} 在区块 {height} 第 {round} 轮签署了两条相互冲突的消息"),
            ),
        )),
    }
}

/// What a verdict rests on, in plain words.
pub fn trust_basis_text(basis: &TrustBasis) -> Text {
    match basis {
        TrustBasis::Genesis => Text::new(
            basis.describe(),
            "仅依据创世文件：可排除一切伪造，唯一的例外是某个验证人集合在被替换之后仍由其法定多数签署另一段历史；若要排除这一点，请同时提供一个在该区块之后保存的可信检查点",
        ),
        TrustBasis::Checkpoint { height, block_hash, .. } => Text::new(
            basis.describe(),
            format!("依据创世文件和区块 {height}（哈希 {block_hash}）的可信检查点，其历史包含本区块"),
        ),
    }
}

/// The facts of a verified proof bundle, in the order `chancery verify` prints them.
pub fn bundle_facts(r: &Report) -> Vec<Fact> {
    let mut out = Vec::new();
    record_facts(&mut out, &r.record);
    let (name_en, name_zh) = match &r.submitter.name {
        Some(name) => (name.clone(), name.clone()),
        None => ("not a genesis member".to_string(), "非创世成员".to_string()),
    };
    out.push(fact(
        "submitter",
        Text::new("Submitter", "提交方"),
        Text::new(format!("{name_en} (key {})", r.submitter.key), format!("{name_zh}（公钥 {}）", r.submitter.key)),
    ));
    out.push(fact("tx_hash", Text::new("Transaction", "交易哈希"), Text::same(r.tx_hash.to_string())));
    out.push(fact("height", Text::new("Block height", "区块高度"), Text::same(r.height.to_string())));
    out.push(fact("block_hash", Text::new("Block hash", "区块哈希"), Text::same(r.block_hash.to_string())));
    out.push(fact(
        "block_time",
        Text::new("Block time (attested by the quorum)", "区块时间（经法定多数见证）"),
        Text::same(format!("{} ({} ms)", utc(r.block_time_ms), r.block_time_ms)),
    ));
    attestation_facts(&mut out, "attested_by", &r.attestation);
    out.push(fact(
        "validator_changes",
        Text::new("Validator-set changes traced from genesis", "自创世起追溯的验证人集合变更"),
        Text::same(r.validator_changes.to_string()),
    ));
    if r.file_matches {
        out.push(fact(
            "file",
            Text::new("Document", "文件"),
            Text::new("matches the anchored digest", "与锚定的摘要一致"),
        ));
    }
    if let Some(c) = &r.checkpoint {
        out.push(fact(
            "checkpoint",
            Text::new("Checkpoint", "检查点"),
            Text::new(
                format!(
                    "included in the history of block {} (hash {}, time {})",
                    c.height,
                    c.block_hash,
                    utc(c.block_time_ms)
                ),
                format!("包含于区块 {}（哈希 {}，时间 {}）的历史中", c.height, c.block_hash, utc(c.block_time_ms)),
            ),
        ));
    }
    match (&r.certificate, &r.record) {
        (Some(verdict), _) => out.extend(cert_facts(verdict)),
        (None, Record::Evidence { cert: Some(_), .. }) => out.push(warning(
            "certificate_status",
            Text::new("Certificate status", "证书状态"),
            Text::new(
                "NOT PROVEN: the bundle carries no status proof for the certificate it names",
                "未证明：证明文件中没有所用证书的状态证明",
            ),
        )),
        _ => {}
    }
    out.push(fact("genesis", Text::new("Genesis", "创世文件哈希"), Text::same(r.genesis_hash.to_string())));
    out.push(fact("trust_basis", Text::new("Trust basis", "信任依据"), trust_basis_text(&r.trust_basis)));
    out
}

/// Which check failed, in plain words, and the verifier's own message.
pub fn failure_text(error: &VerifyError) -> Text {
    use VerifyError as E;
    let (en, zh) = match error {
        E::Bundle(_) => ("the proof could not be read", "证明文件无法读取"),
        E::WrongChain { .. } => {
            ("the proof is for another chain than the genesis file", "证明与创世文件不属于同一条链")
        }
        E::WrongGenesis { .. } => {
            ("the proof names another genesis than the one given", "证明所指的创世文件与所提供的不同")
        }
        E::Decode { .. } => ("data in the proof does not decode", "证明中的数据无法解码"),
        E::TxSignature(_) => ("the transaction's signature is not valid", "交易签名无效"),
        E::HostedSignature(_) => ("the recorded document signature is not valid", "所记录的文档签名无效"),
        E::TxCountMismatch { .. } | E::TxNotInBlock(_) => ("the transaction is not in the block", "该交易不在此区块中"),
        E::TooManyChanges { .. }
        | E::ChangeOutOfOrder { .. }
        | E::NotAChange { .. }
        | E::EpochMismatch { .. }
        | E::InvalidValidatorSet { .. }
        | E::ChangeNotCommitted { .. }
        | E::ValidatorSetMismatch { .. } => {
            ("the validators cannot be traced back to the genesis", "验证人集合无法追溯到创世文件")
        }
        E::Commit { .. } => (
            "the block is not signed by more than two thirds of the validators' power",
            "该区块未获得超过三分之二投票权的验证节点签名",
        ),
        E::GenesisLinkMismatch { .. } => ("the first block does not link to the genesis", "首个区块未链接到创世文件"),
        E::CheckpointNotLater { .. } | E::NotInCheckpoint(_) | E::NotConsistent(_) => {
            ("the trusted checkpoint does not include this block", "可信检查点的历史不包含此区块")
        }
        E::FileWithoutEvidence => (
            "a document was given, but this record anchors no document digest",
            "提供了文件，但该记录并未锚定任何文件摘要",
        ),
        E::CertState(_) | E::CertProof(_) => ("the certificate status proof is not valid", "证书状态证明无效"),
        E::ProposalState(_) => ("the proposal proof is not valid", "提案证明无效"),
        E::FileMismatch { .. } => (
            "the document does not match the anchored digest: it is not the anchored document",
            "文件与锚定的摘要不一致：这不是被锚定的那份文件",
        ),
    };
    Text::new(format!("{en} ({error})"), format!("{zh}（{error}）"))
}
