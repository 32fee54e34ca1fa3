//! [`SplitMix64`]: the one seeded PRNG of the test utilities, for reproducible random tests.

/// `SplitMix64` (Steele, Lea and Flood, 2014): a tiny, well-distributed, deterministic PRNG.
///
/// The same seed gives the same sequence on every platform and every run, so a failing seed
/// of a randomised test reproduces exactly. It is what [`Faults::fail_rate`](super::Faults::fail_rate)
/// draws from; tests use it for their own choices. Not for anything secret.
///
/// The seed is the generator's state as given: spread neighbouring seeds apart first
/// (`SplitMix64::new(seed ^ SPREAD)`) when a test wants runs of seeds `0, 1, 2, …` to differ
/// from their first draw.
///
/// ```
/// use ninjaone_servicenow::testing::rng::SplitMix64;
/// let mut a = SplitMix64::new(7);
/// let mut b = SplitMix64::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// let x = a.next_f64();
/// assert!((0.0..1.0).contains(&x));
/// // The first draw of seed 0 is SplitMix64's published first output.
/// assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The golden-ratio increment of every step.
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    /// A generator whose state is `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 uniform bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GAMMA);
        mix(self.0)
    }

    /// A uniform value in `[0, 1)` (53 bits).
    #[allow(clippy::cast_precision_loss)]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A value in `0..n` (`next_u64() % n`, with the slight bias of a modulo); `0` when `n` is
    /// `0`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `true` with probability `percent / 100` (`next_u64() % 100 < percent`).
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// `true` or `false`, even odds (the lowest bit of [`next_u64`](Self::next_u64)).
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// The first output of a generator seeded with `n`, without keeping a generator: a cheap
    /// bijective scramble of `n`.
    ///
    /// ```
    /// use ninjaone_servicenow::testing::rng::SplitMix64;
    /// assert_eq!(SplitMix64::scramble(5), SplitMix64::new(5).next_u64());
    /// ```
    #[must_use]
    pub const fn scramble(n: u64) -> u64 {
        mix(n.wrapping_add(Self::GAMMA))
    }
}

/// SplitMix64's output function.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
