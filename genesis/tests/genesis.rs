//! Genesis validation: one case per rule, each failing with an error that names it; and a
//! hash that depends on the content, not the JSON formatting.

mod common;

use chancery_genesis::{Genesis, GenesisError};
use common::example_genesis;

fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value: serde_json::Value = serde_json::from_str(&example_genesis().to_json()).expect("json");
    edit(&mut value);
    value.to_string()
}

#[test]
fn the_example_round_trips_and_validates() {
    let genesis = example_genesis();
    let parsed = Genesis::from_json(&genesis.to_json()).expect("valid genesis");
    assert_eq!(parsed, genesis);
    assert_eq!(parsed.hash(), genesis.hash());
}

#[test]
fn the_hash_ignores_formatting_and_follows_content() {
    let genesis = example_genesis();
    let compact: serde_json::Value = serde_json::from_str(&genesis.to_json()).expect("json");
    assert_eq!(Genesis::from_json(&compact.to_string()).expect("valid").hash(), genesis.hash());
    let later = edited(|v| v["genesis_time_ms"] = serde_json::json!(1_767_225_600_001u64));
    assert_ne!(Genesis::from_json(&later).expect("valid").hash(), genesis.hash());
}

#[test]
fn each_broken_rule_is_named() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("unknown role", edited(|v| v["validators"][0]["role"] = "judge".into()), "unknown variant `judge`"),
        ("empty set", edited(|v| v["validators"] = serde_json::json!([])), "no validators"),
        (
            "zero power",
            edited(|v| {
                for validator in v["validators"].as_array_mut().expect("list") {
                    validator["power"] = 0.into();
                }
            }),
            "observers must have power 0, every other role at least 1",
        ),
        (
            "observers only",
            edited(|v| {
                for validator in v["validators"].as_array_mut().expect("list") {
                    validator["role"] = "observer".into();
                    validator["power"] = 0.into();
                }
            }),
            "no voting power",
        ),
        (
            "duplicate consensus key",
            edited(|v| v["validators"][1]["consensus_key"] = v["validators"][0]["consensus_key"].clone()),
            "reuses the consensus key",
        ),
        (
            "duplicate name",
            edited(|v| v["validators"][1]["name"] = v["validators"][0]["name"].clone()),
            "is used twice",
        ),
        ("bad key hex", edited(|v| v["validators"][0]["p2p_key"] = "abcd".into()), "expected 64 hex digits"),
        (
            "invalid key point",
            edited(|v| v["members"][0]["key"] = format!("02{}", "00".repeat(31)).into()),
            "invalid key",
        ),
        ("bad chain id", edited(|v| v["chain_id"] = "court net".into()), "chain id \"court net\" is invalid"),
        ("zero genesis time", edited(|v| v["genesis_time_ms"] = 0.into()), "genesis_time_ms must be set"),
        (
            "drift out of range",
            edited(|v| v["params"]["max_clock_drift_ms"] = 0.into()),
            "params.max_clock_drift_ms is 0",
        ),
        ("block too large", edited(|v| v["params"]["max_block_txs"] = 1_000_000.into()), "params.max_block_txs"),
        (
            "member reuses validator key",
            edited(|v| v["members"][0]["key"] = v["validators"][0]["consensus_key"].clone()),
            "its key",
        ),
        ("duplicate member name", edited(|v| v["members"][1]["name"] = v["members"][0]["name"].clone()), "its name"),
        (
            "integrator without kinds",
            edited(|v| v["members"][0]["role"]["integrator"]["kinds"] = serde_json::json!([])),
            "may submit no evidence kind",
        ),
        ("unknown field", edited(|v| v["extra"] = 1.into()), "unknown field `extra`"),
        (
            "missing field",
            edited(|v| drop(v.as_object_mut().expect("object").remove("params"))),
            "missing field `params`",
        ),
        ("not json", "{".to_string(), "not a valid genesis document"),
    ];
    for (desc, json, want) in cases {
        let err = Genesis::from_json(&json).expect_err(desc);
        assert!(err.to_string().contains(want), "{desc}: error {err:?} should mention {want:?}");
    }
    let huge = " ".repeat(chancery_genesis::GENESIS_JSON_BYTES_MAX + 1);
    assert!(matches!(Genesis::from_json(&huge), Err(GenesisError::TooLarge { .. })));
}

#[test]
fn builder_refuses_a_duplicate_validator_and_keeps_the_old_state() {
    let mut genesis = example_genesis();
    let first = genesis.validators.validators[0].clone();
    assert!(genesis.add_validator(first).is_err());
    assert_eq!(genesis.validators.validators.len(), 4);
    let member = genesis.members[0].clone();
    assert!(genesis.add_member(member).is_err());
    assert_eq!(genesis.members.len(), 2);
}
