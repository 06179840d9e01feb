//! Whole-cluster simulations through the real consensus engine.

use chancery_consensus::sim::{Cluster, NetworkConfig};

const HEALTHY: NetworkConfig = NetworkConfig { delay_ms: 5, jitter_ms: 20 };

#[test]
fn four_validators_decide_fifty_heights_on_a_healthy_network() {
    let mut cluster = Cluster::new(4, 7, HEALTHY);
    let outcome = cluster.run(50, 600_000).unwrap_or_else(|v| panic!("seed 7: {v}"));
    assert_eq!(outcome.heights, 50);
    for node in 1..4 {
        assert_eq!(
            cluster.chain(node)[..50].iter().map(|(b, _)| b.header.hash()).collect::<Vec<_>>(),
            cluster.chain(0)[..50].iter().map(|(b, _)| b.header.hash()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let a = Cluster::new(4, 11, HEALTHY).run(10, 600_000).expect("decides");
    let b = Cluster::new(4, 11, HEALTHY).run(10, 600_000).expect("decides");
    let c = Cluster::new(4, 12, HEALTHY).run(10, 600_000).expect("decides");
    assert_eq!(a.trace, b.trace);
    assert_ne!(a.trace, c.trace, "a different seed gives a different schedule");
}

#[test]
fn one_and_seven_validators_decide() {
    for n in [1, 7] {
        let outcome = Cluster::new(n, 3, HEALTHY).run(10, 600_000).unwrap_or_else(|v| panic!("n {n}: {v}"));
        assert_eq!(outcome.heights, 10);
    }
}

#[test]
fn a_silent_validator_does_not_stop_the_other_three() {
    use chancery_consensus::sim::Behaviour;
    let mut cluster = Cluster::new(4, 21, HEALTHY);
    cluster.set_behaviour(2, Behaviour::Silent);
    let outcome = cluster.run(20, 3_600_000).unwrap_or_else(|v| panic!("seed 21: {v}"));
    assert_eq!(outcome.heights, 20);
}

#[test]
fn back_dated_and_far_future_proposals_are_never_decided() {
    use chancery_consensus::sim::Behaviour;
    for (seed, offset) in [(31u64, -3_600_000i64), (32, 3_600_000)] {
        let mut cluster = Cluster::new(4, seed, HEALTHY);
        cluster.set_behaviour(1, Behaviour::ClockLiar(offset));
        let outcome = cluster.run(20, 3_600_000).unwrap_or_else(|v| panic!("seed {seed}: {v}"));
        assert_eq!(outcome.heights, 20);
        // No decided block carries the liar's skewed time: every block time is within the
        // drift of the virtual clock that decided it (checked by the simulator), and here
        // no decided block was proposed by the liar at all.
        let liar_key = chancery_ledger::testkit::public(&chancery_ledger::testkit::key(1, 1));
        assert!(
            cluster.chain(0).iter().all(|(b, _)| b.header.proposer != liar_key),
            "seed {seed}: a skewed block was decided"
        );
    }
}
