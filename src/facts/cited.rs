//! What a fact cites (its source and note), held once for every fact that cites the same.

use std::collections::HashMap;
use std::sync::Arc;

/// A fact's source dataset and its note. A table's rows mostly share both, so a fact holds a
/// pointer to one shared copy rather than two strings of its own.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Citation {
    source: Box<str>,
    note: Box<str>,
}

impl Citation {
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn note(&self) -> &str {
        &self.note
    }
}

/// The citations met while loading, by source then note: one lookup per row and no allocation
/// for a pair already seen.
#[derive(Default)]
pub(crate) struct Citations(HashMap<Box<str>, HashMap<Box<str>, Arc<Citation>>>);

impl Citations {
    /// The shared citation of `source` and `note`.
    pub(crate) fn get(&mut self, source: &str, note: &str) -> Arc<Citation> {
        if !self.0.contains_key(source) {
            self.0.insert(source.into(), HashMap::new());
        }
        let notes = self.0.get_mut(source).expect("inserted above");
        if let Some(cited) = notes.get(note) {
            return Arc::clone(cited);
        }
        let cited = Arc::new(Citation {
            source: source.into(),
            note: note.into(),
        });
        notes.insert(note.into(), Arc::clone(&cited));
        cited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_pair_is_held_once() {
        let mut citations = Citations::default();
        let a = citations.get("ONS", "rounded");
        let b = citations.get("ONS", "rounded");
        let c = citations.get("ONS", "");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!((c.source(), c.note()), ("ONS", ""));
    }
}
