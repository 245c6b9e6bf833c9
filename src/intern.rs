//! String interning, so the events kept for correlation are a few tens of bytes each.
//!
//! Each worker interns into its own [`Interner`]; merging two remaps the other's symbols. At the
//! barrier [`Interner::canonicalize`] renumbers symbols in string order, which makes every later
//! sort (and so every report) independent of how work was split between threads.

use foldhash::fast::RandomState;
use std::hash::BuildHasher;

/// The hash map of the layers that count by symbols and event IDs: foldhash, seeded per map
/// (SipHash, std's default, cost more than the counting in the what-if and the reports). Only
/// for maps whose iteration order never reaches a report.
pub type HashMap<K, V> = std::collections::HashMap<K, V, RandomState>;
/// [`HashMap`]'s set.
pub type HashSet<K> = std::collections::HashSet<K, RandomState>;

/// An interned string. [`Sym::NONE`] stands for "absent" (`null` when serialised).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(from = "Option<u32>", into = "Option<u32>")]
pub struct Sym(pub u32);

impl From<Option<u32>> for Sym {
    fn from(n: Option<u32>) -> Sym {
        n.map_or(Sym::NONE, Sym)
    }
}

impl From<Sym> for Option<u32> {
    fn from(s: Sym) -> Option<u32> {
        (!s.is_none()).then_some(s.0)
    }
}

impl Sym {
    pub const NONE: Sym = Sym(u32::MAX);
    pub fn is_none(self) -> bool {
        self == Sym::NONE
    }
}

/// Strings stored end to end in one buffer, found again through a table of symbols keyed by
/// their hash: no allocation per string, and the string's own size in memory plus 40 bytes or
/// so (its end, 8; its table slot, 16, in a table between a quarter and half full).
#[derive(Debug, Clone)]
pub struct Interner {
    /// Every string, end to end, in symbol order.
    text: String,
    /// Where each symbol's string ends in `text`; it starts where the previous one ends.
    ends: Vec<usize>,
    /// Symbols by the hash of their string, each with where its string lies in `text`, so
    /// that a lookup compares the string without reading `ends` (a cache miss of its own in a
    /// table of a million object keys). Symbols are looked up once per string per record: a
    /// fast hash matters. foldhash seeds itself per interner, so crafted strings in a log
    /// cannot force collisions.
    table: Table,
    hasher: RandomState,
    /// Per [`Field`], the symbol it was last given ([`Interner::intern_field`]), or
    /// [`Sym::NONE`].
    recent: [Sym; Field::COUNT],
}

/// The interner's hash table: open addressing with linear probing, at most half full, its
/// slots in one array, so that where a string's slot is follows from its hash alone and
/// [`Interner::intern_many`] can ask for it (prefetch) before it looks. hashbrown's table,
/// used before, keeps that to itself; with a million object keys each lookup missed the cache
/// two or three times in a row (its control bytes, its entry, the string).
#[derive(Debug, Clone)]
struct Table {
    /// A power of two of them; an empty slot's symbol is [`Sym::NONE`].
    slots: Vec<Slot>,
    /// Symbols in the table.
    len: usize,
}

/// A symbol in the table: where its string lies in the text, and the top bits of its hash
/// (so that a slot of another string of the same length is passed without reading its text).
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The string's start in the text (the low [`START_BITS`]) and the hash's top bits (above).
    word: u64,
    len: u32,
    sym: Sym,
}

/// Bits of a slot's word for its string's start: a text up to 1 TiB.
const START_BITS: u32 = 40;
const START_MASK: u64 = (1 << START_BITS) - 1;
/// A table never smaller than this.
const MIN_SLOTS: usize = 16;
/// How far ahead [`Interner::intern_many`] prefetches a string's slot, and (half as far) the
/// string its slot names. Measured on a million object keys (a throwaway program, not kept):
/// 8 to 32 ahead all do about as well; none, 1.4 to 1.6 times as long.
const SLOT_AHEAD: usize = 16;
const TEXT_AHEAD: usize = SLOT_AHEAD / 2;

impl Slot {
    const EMPTY: Slot = Slot {
        word: 0,
        len: 0,
        sym: Sym::NONE,
    };

    #[inline]
    fn start(&self) -> usize {
        (self.word & START_MASK) as usize
    }

    #[inline]
    fn text<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start()..self.start() + self.len as usize]
    }

    /// Whether it is `s`'s, of hash `hash`: the hash's top bits and the length first, so the
    /// text is read only when they agree.
    #[inline]
    fn is(&self, text: &str, s: &str, hash: u64) -> bool {
        self.word & !START_MASK == hash & !START_MASK
            && self.len as usize == s.len()
            && self.text(text) == s
    }
}

impl Table {
    fn with_capacity(strings: usize) -> Table {
        let slots = (strings.saturating_mul(2))
            .next_power_of_two()
            .max(MIN_SLOTS);
        Table {
            slots: vec![Slot::EMPTY; slots],
            len: 0,
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Where `s` (of hash `hash`) is, or the empty slot where it would go.
    #[inline]
    fn probe(&self, text: &str, s: &str, hash: u64) -> Result<Sym, usize> {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let slot = &self.slots[i];
            if slot.sym.is_none() {
                return Err(i);
            }
            if slot.is(text, s, hash) {
                return Ok(slot.sym);
            }
            i = (i + 1) & mask;
        }
    }

    /// Room for `more` symbols without passing half full; the slots are rehashed into a
    /// larger table when needed.
    fn reserve(&mut self, more: usize, text: &str, hasher: &RandomState) {
        let want = self.len + more;
        if want * 2 <= self.slots.len() {
            return;
        }
        let mut bigger = Table::with_capacity(want.max(self.slots.len()));
        let mask = bigger.mask();
        for slot in self.slots.iter().filter(|s| !s.sym.is_none()) {
            let mut i = hasher.hash_one(slot.text(text)) as usize & mask;
            while !bigger.slots[i].sym.is_none() {
                i = (i + 1) & mask;
            }
            bigger.slots[i] = *slot;
        }
        bigger.len = self.len;
        *self = bigger;
    }

    /// Asks for the cache line of `hash`'s first slot.
    #[inline]
    fn prefetch_slot(&self, hash: u64) {
        prefetch(&self.slots[hash as usize & self.mask()] as *const Slot as *const u8);
    }

    /// Asks for the text of the string in `hash`'s first slot, when its hash's top bits are
    /// `hash`'s (most likely the string looked for).
    #[inline]
    fn prefetch_text(&self, hash: u64, text: &str) {
        let slot = &self.slots[hash as usize & self.mask()];
        if !slot.sym.is_none() && slot.word & !START_MASK == hash & !START_MASK {
            prefetch(text.as_ptr().wrapping_add(slot.start()));
        }
    }
}

/// A hint that the cache line of `at` will be read soon (nothing on other targets). Any
/// address will do: a prefetch never faults.
#[inline(always)]
fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(at as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// The fields a reader interns record after record. Consecutive records of a file mostly share
/// their account, Region, requester, bucket and KMS key: [`Interner::intern_field`] compares
/// such a string with the field's last one before it hashes it.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    Partition,
    Account,
    Region,
    Requester,
    Bucket,
    KmsKey,
    Caller,
    Purpose,
}

impl Field {
    const COUNT: usize = Field::Purpose as usize + 1;
}

impl Default for Interner {
    fn default() -> Interner {
        Interner {
            text: String::new(),
            ends: Vec::new(),
            table: Table::with_capacity(0),
            hasher: RandomState::default(),
            recent: [Sym::NONE; Field::COUNT],
        }
    }
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        let hash = self.hasher.hash_one(s);
        self.intern_hashed(s, hash)
    }

    /// [`Interner::intern`] of `s`, whose hash is `hash`.
    #[inline]
    fn intern_hashed(&mut self, s: &str, hash: u64) -> Sym {
        let at = match self.table.probe(&self.text, s, hash) {
            Ok(sym) => return sym,
            Err(at) => at,
        };
        // `Sym::NONE` (u32::MAX) is never a string's symbol.
        assert!(
            self.ends.len() < u32::MAX as usize
                && s.len() <= u32::MAX as usize
                && (self.text.len() + s.len()) as u64 <= START_MASK,
            "at most 2^32 - 1 distinct strings, each shorter than 4 GiB, 1 TiB in all"
        );
        let sym = Sym(self.ends.len() as u32);
        self.table.slots[at] = Slot {
            word: self.text.len() as u64 | (hash & !START_MASK),
            len: s.len() as u32,
            sym,
        };
        self.table.len += 1;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        if self.table.len * 2 > self.table.slots.len() {
            self.table.reserve(1, &self.text, &self.hasher);
        }
        sym
    }

    /// Interns `strings` in order and hands each one's symbol to `each` (its index, its
    /// symbol): the symbols [`Interner::intern`] would give one string after another, found
    /// faster when there are many strings (object keys, a million distinct ones). The slot of
    /// the string 16 places on is asked for (prefetched) before this one is looked up, and the
    /// text named by the slot of the one 8 places on, so the cache misses of many lookups
    /// overlap instead of following one another.
    pub fn intern_many(&mut self, strings: &[&str], mut each: impl FnMut(usize, Sym)) {
        // No rehash in the middle: the slots asked for stay where they are.
        self.table.reserve(strings.len(), &self.text, &self.hasher);
        let hashes: Vec<u64> = strings.iter().map(|s| self.hasher.hash_one(s)).collect();
        for (i, (s, &hash)) in strings.iter().zip(&hashes).enumerate() {
            if let Some(&ahead) = hashes.get(i + SLOT_AHEAD) {
                self.table.prefetch_slot(ahead);
            }
            if let Some(&ahead) = hashes.get(i + TEXT_AHEAD) {
                self.table.prefetch_text(ahead, &self.text);
            }
            each(i, self.intern_hashed(s, hash));
        }
    }

    pub fn intern_opt(&mut self, s: Option<&str>) -> Sym {
        s.map_or(Sym::NONE, |s| self.intern(s))
    }

    /// [`Interner::intern`], for a string of `field`: when it is the string that field was last
    /// given (the same account, Region, bucket... as the record before), its symbol without a
    /// hash or a table probe.
    #[inline]
    pub fn intern_field(&mut self, field: Field, s: &str) -> Sym {
        let last = self.recent[field as usize];
        if !last.is_none() && string_of(&self.text, &self.ends, last) == s {
            return last;
        }
        let sym = self.intern(s);
        self.recent[field as usize] = sym;
        sym
    }

    /// [`Interner::intern_field`] of a string that may be absent.
    #[inline]
    pub fn intern_field_opt(&mut self, field: Field, s: Option<&str>) -> Sym {
        s.map_or(Sym::NONE, |s| self.intern_field(field, s))
    }

    /// The string of `sym`; `""` for [`Sym::NONE`].
    pub fn get(&self, sym: Sym) -> &str {
        if sym.is_none() {
            ""
        } else {
            string_of(&self.text, &self.ends, sym)
        }
    }

    /// The symbol of `s`, if it was interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        let hash = self.hasher.hash_one(s);
        self.table.probe(&self.text, s, hash).ok()
    }

    pub fn get_opt(&self, sym: Sym) -> Option<&str> {
        (!sym.is_none()).then(|| self.get(sym))
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes it holds on the heap, about: the text, the ends, the table.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.table.slots.capacity() * std::mem::size_of::<Slot>()
    }

    /// Every string, in symbol order.
    pub fn strings(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len() as u32).map(|i| string_of(&self.text, &self.ends, Sym(i)))
    }

    /// The interner whose symbol `i` is `strings[i]`; `None` when a string is given twice.
    pub fn from_strings<'s>(strings: impl IntoIterator<Item = &'s str>) -> Option<Interner> {
        let strings: Vec<&str> = strings.into_iter().collect();
        let mut interner = Interner::default();
        let mut distinct = true;
        interner.intern_many(&strings, |i, sym| distinct &= sym.0 as usize == i);
        distinct.then_some(interner)
    }

    /// Absorbs `other`'s strings; returns the map from `other`'s symbols to this one's.
    pub fn absorb(&mut self, other: Interner) -> Remap {
        self.text.reserve(other.text.len());
        self.ends.reserve(other.ends.len());
        let strings: Vec<&str> = other.strings().collect();
        let mut map = Vec::with_capacity(strings.len());
        self.intern_many(&strings, |_, sym| map.push(sym));
        Remap(map)
    }

    /// Renumbers symbols so their order is the order of their strings.
    pub fn canonicalize(&mut self) -> Remap {
        use rayon::prelude::*;
        let mut order: Vec<u32> = (0..self.ends.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| self.get(Sym(a)).cmp(self.get(Sym(b))));
        let mut map = vec![Sym::NONE; order.len()];
        for (new, &old) in order.iter().enumerate() {
            map[old as usize] = Sym(new as u32);
        }
        let mut sorted = Interner {
            text: String::with_capacity(self.text.len()),
            ends: Vec::with_capacity(self.ends.len()),
            table: Table::with_capacity(self.ends.len()),
            hasher: self.hasher.clone(),
            recent: [Sym::NONE; Field::COUNT],
        };
        let strings: Vec<&str> = order.iter().map(|&old| self.get(Sym(old))).collect();
        // Distinct strings: each is given the next symbol, its place in string order.
        sorted.intern_many(&strings, |_, _| {});
        *self = sorted;
        Remap(map)
    }
}

/// The string of a symbol (not [`Sym::NONE`]), from an interner's parts.
#[inline]
fn string_of<'t>(text: &'t str, ends: &[usize], sym: Sym) -> &'t str {
    let i = sym.0 as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &text[start..ends[i]]
}

/// A map from one interner's symbols to another's.
pub struct Remap(Vec<Sym>);

impl Remap {
    /// This map, then `next`.
    pub fn then(&self, next: &Remap) -> Remap {
        Remap(self.0.iter().map(|&s| next.apply(s)).collect())
    }

    #[inline]
    pub fn apply(&self, sym: Sym) -> Sym {
        if sym.is_none() {
            sym
        } else {
            self.0[sym.0 as usize]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_symbols_follow_string_order_whatever_the_insertion_order() {
        let mut a = Interner::default();
        let c = a.intern("c");
        let b = a.intern("b");
        let remap = a.canonicalize();
        assert!(remap.apply(b) < remap.apply(c));
        assert_eq!(a.get(remap.apply(c)), "c");
        assert_eq!(a.intern("b"), remap.apply(b));
    }

    #[test]
    fn maps_compose() {
        let (mut a, mut b, mut c) = (
            Interner::default(),
            Interner::default(),
            Interner::default(),
        );
        let x = a.intern("x");
        b.intern("y");
        c.intern("z");
        let a_to_b = b.absorb(a);
        let b_to_c = c.absorb(b);
        let a_to_c = a_to_b.then(&b_to_c);
        assert_eq!(c.get(a_to_c.apply(x)), "x");
        assert_eq!(a_to_c.apply(Sym::NONE), Sym::NONE);
    }

    #[test]
    fn a_fields_last_string_gives_the_symbol_interning_gives() {
        let mut a = Interner::default();
        let z = a.intern_field(Field::Account, "z");
        assert_eq!(a.intern_field(Field::Account, "z"), z);
        // Another field's cache, or none, finds the same symbol.
        assert_eq!(a.intern_field(Field::Region, "z"), z);
        assert_eq!(a.intern("z"), z);
        let y = a.intern_field(Field::Account, "y");
        assert_ne!(y, z);
        let again = a.intern_field(Field::Account, "z");
        assert_eq!(a.get(again), "z");
        assert_eq!(a.intern_field_opt(Field::Account, None), Sym::NONE);
        // Renumbered ("z" was 0 and is 1 once "y" sorts first), it gives the new symbols.
        let remap = a.canonicalize();
        assert_eq!(remap.apply(z), Sym(1));
        assert_eq!(a.intern_field(Field::Account, "z"), Sym(1));
        assert_eq!(a.intern_field(Field::Account, "y"), Sym(0));
        assert_eq!(a.intern_field(Field::Region, "z"), Sym(1));
    }

    #[test]
    fn interning_many_gives_the_symbols_interning_one_by_one_gives() {
        // Strings with many repeats and many of one length (so slots of the same length and
        // the same first slot meet), in runs of every size across the table's growth.
        let mut seed = 11u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let strings: Vec<String> = (0..20_000)
            .map(|_| match next(3) {
                0 => format!("k/{:05}", next(3000)),
                1 => format!("logs/2026/11/{}.json", next(40_000)),
                _ => "x".repeat(next(4) as usize),
            })
            .collect();
        let (mut one, mut many) = (Interner::default(), Interner::default());
        let mut at = 0;
        let mut run = 0;
        while at < strings.len() {
            run = (run * 7 + 3) % 300;
            let chunk: Vec<&str> = strings[at..(at + run).min(strings.len())]
                .iter()
                .map(String::as_str)
                .collect();
            let mut got = Vec::new();
            many.intern_many(&chunk, |i, sym| got.push((i, sym)));
            let want: Vec<(usize, Sym)> = chunk
                .iter()
                .enumerate()
                .map(|(i, s)| (i, one.intern(s)))
                .collect();
            assert_eq!(got, want);
            at += chunk.len();
        }
        assert_eq!(one.len(), many.len());
        for (i, s) in one.strings().enumerate() {
            assert_eq!(many.get(Sym(i as u32)), s);
            assert_eq!(many.lookup(s), Some(Sym(i as u32)));
        }
        assert_eq!(many.lookup("absent"), None);
        // Renumbered, every string is found under its new symbol.
        let remap = many.canonicalize();
        for (i, s) in one.strings().enumerate() {
            let sym = remap.apply(Sym(i as u32));
            assert_eq!(many.get(sym), s);
            assert_eq!(many.lookup(s), Some(sym));
            assert_eq!(many.intern(s), sym);
        }
        assert!(many
            .strings()
            .zip(many.strings().skip(1))
            .all(|(a, b)| a < b));
    }

    #[test]
    fn absorbing_maps_shared_strings_to_one_symbol() {
        let mut a = Interner::default();
        a.intern("x");
        let mut b = Interner::default();
        let bx = b.intern("x");
        let by = b.intern("y");
        let remap = a.absorb(b);
        assert_eq!(a.get(remap.apply(bx)), "x");
        assert_eq!(a.get(remap.apply(by)), "y");
        assert_eq!(a.len(), 2);
        assert_eq!(remap.apply(Sym::NONE), Sym::NONE);
    }
}
