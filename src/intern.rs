//! String interning, so the events kept for correlation are a few tens of bytes each.
//!
//! Each worker interns into its own [`Interner`]; merging two remaps the other's symbols. At the
//! barrier [`Interner::canonicalize`] renumbers symbols in string order, which makes every later
//! sort (and so every report) independent of how work was split between threads.

use foldhash::fast::RandomState;
use hashbrown::HashTable;
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
/// their hash: no allocation per string, and the string's own size in memory plus about 25
/// bytes (its end, 8; its table entry, 16 and a control byte).
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
    table: HashTable<Entry>,
    hasher: RandomState,
    /// Per [`Field`], the symbol it was last given ([`Interner::intern_field`]), or
    /// [`Sym::NONE`].
    recent: [Sym; Field::COUNT],
}

/// A symbol in the table, with its string's place in the text.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    len: u32,
    sym: Sym,
}

impl Entry {
    #[inline]
    fn text<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start..self.start + self.len as usize]
    }

    /// Whether its string is `s` (the length first: no read of the text when it differs).
    #[inline]
    fn is(&self, text: &str, s: &str) -> bool {
        self.len as usize == s.len() && self.text(text) == s
    }
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
            table: HashTable::new(),
            hasher: RandomState::default(),
            recent: [Sym::NONE; Field::COUNT],
        }
    }
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        let hash = self.hasher.hash_one(s);
        let Interner {
            text,
            ends,
            table,
            hasher,
            ..
        } = self;
        if let Some(e) = table.find(hash, |e| e.is(text, s)) {
            return e.sym;
        }
        // `Sym::NONE` (u32::MAX) is never a string's symbol.
        assert!(
            ends.len() < u32::MAX as usize && s.len() <= u32::MAX as usize,
            "at most 2^32 - 1 distinct strings, each shorter than 4 GiB"
        );
        let entry = Entry {
            start: text.len(),
            len: s.len() as u32,
            sym: Sym(ends.len() as u32),
        };
        text.push_str(s);
        ends.push(text.len());
        table.insert_unique(hash, entry, |e| hasher.hash_one(e.text(text)));
        entry.sym
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
        self.table
            .find(hash, |e| e.is(&self.text, s))
            .map(|e| e.sym)
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
            + self.table.capacity() * (std::mem::size_of::<Entry>() + 1)
    }

    /// Every string, in symbol order.
    pub fn strings(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len() as u32).map(|i| string_of(&self.text, &self.ends, Sym(i)))
    }

    /// The interner whose symbol `i` is `strings[i]`; `None` when a string is given twice.
    pub fn from_strings<'s>(strings: impl IntoIterator<Item = &'s str>) -> Option<Interner> {
        let mut interner = Interner::default();
        for (i, s) in strings.into_iter().enumerate() {
            if interner.intern(s).0 as usize != i {
                return None;
            }
        }
        Some(interner)
    }

    /// Absorbs `other`'s strings; returns the map from `other`'s symbols to this one's.
    pub fn absorb(&mut self, other: Interner) -> Remap {
        self.text.reserve(other.text.len());
        self.ends.reserve(other.ends.len());
        Remap(other.strings().map(|s| self.intern(s)).collect())
    }

    /// Renumbers symbols so their order is the order of their strings.
    pub fn canonicalize(&mut self) -> Remap {
        use rayon::prelude::*;
        let mut order: Vec<u32> = (0..self.ends.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| self.get(Sym(a)).cmp(self.get(Sym(b))));
        let mut map = vec![Sym::NONE; order.len()];
        let mut sorted = Interner {
            text: String::with_capacity(self.text.len()),
            ends: Vec::with_capacity(self.ends.len()),
            table: HashTable::with_capacity(self.ends.len()),
            hasher: self.hasher.clone(),
            recent: [Sym::NONE; Field::COUNT],
        };
        for (new, &old) in order.iter().enumerate() {
            let s = self.get(Sym(old));
            sorted.text.push_str(s);
            sorted.ends.push(sorted.text.len());
            map[old as usize] = Sym(new as u32);
        }
        let Interner {
            text,
            ends,
            table,
            hasher,
            ..
        } = &mut sorted;
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let entry = Entry {
                start,
                len: (end - start) as u32,
                sym: Sym(i as u32),
            };
            table.insert_unique(hasher.hash_one(entry.text(text)), entry, |e| {
                hasher.hash_one(e.text(text))
            });
            start = end;
        }
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
