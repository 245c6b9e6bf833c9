//! String interning, so the events kept for correlation are a few tens of bytes each.
//!
//! Each worker interns into its own [`Interner`]; merging two remaps the other's symbols. At the
//! barrier [`Interner::canonicalize`] renumbers symbols in string order, which makes every later
//! sort (and so every report) independent of how work was split between threads.

/// Symbols are looked up once per string per record: a fast hash matters. foldhash seeds
/// itself per map, so crafted strings in a log cannot force collisions.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// An interned string. [`Sym::NONE`] stands for "absent".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sym(pub u32);

impl Sym {
    pub const NONE: Sym = Sym(u32::MAX);
    pub fn is_none(self) -> bool {
        self == Sym::NONE
    }
}

#[derive(Debug, Default, Clone)]
pub struct Interner {
    map: HashMap<Box<str>, Sym>,
    strings: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let sym = Sym(self.strings.len() as u32);
        let boxed: Box<str> = s.into();
        self.strings.push(boxed.clone());
        self.map.insert(boxed, sym);
        sym
    }

    pub fn intern_opt(&mut self, s: Option<&str>) -> Sym {
        s.map_or(Sym::NONE, |s| self.intern(s))
    }

    /// The string of `sym`; `""` for [`Sym::NONE`].
    pub fn get(&self, sym: Sym) -> &str {
        if sym.is_none() {
            ""
        } else {
            &self.strings[sym.0 as usize]
        }
    }

    /// The symbol of `s`, if it was interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        self.map.get(s).copied()
    }

    pub fn get_opt(&self, sym: Sym) -> Option<&str> {
        (!sym.is_none()).then(|| self.get(sym))
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// Absorbs `other`'s strings; returns the map from `other`'s symbols to this one's.
    pub fn absorb(&mut self, other: Interner) -> Remap {
        let map = other.strings.iter().map(|s| self.intern(s)).collect();
        Remap(map)
    }

    /// Renumbers symbols so their order is the order of their strings.
    pub fn canonicalize(&mut self) -> Remap {
        use rayon::prelude::*;
        let mut order: Vec<u32> = (0..self.strings.len() as u32).collect();
        order
            .par_sort_unstable_by(|&a, &b| self.strings[a as usize].cmp(&self.strings[b as usize]));
        let mut map = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            map[old as usize] = new as u32;
        }
        let mut strings: Vec<Box<str>> = Vec::with_capacity(order.len());
        for &old in &order {
            strings.push(std::mem::take(&mut self.strings[old as usize]));
        }
        self.map = strings
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), Sym(i as u32)))
            .collect();
        self.strings = strings;
        Remap(map.into_iter().map(Sym).collect())
    }
}

/// A map from one interner's symbols to another's.
pub struct Remap(Vec<Sym>);

impl Remap {
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
