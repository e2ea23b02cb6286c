//! The three maps the workbench compares, by name: [`MapSlot`] (attention, GradCAM, Chefer) and
//! [`PerMap`], one value per slot, in place of bare indices and `[Option<T>; 3]`.

use std::ops::{Index, IndexMut};

/// One of the three compared maps, in pane order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapSlot {
    /// Raw attention of the class token.
    Attention,
    /// GradCAM (plain, or with the paper's smoothing).
    Gradcam,
    /// Chefer et al.'s relevance.
    Chefer,
}

impl MapSlot {
    /// All slots in pane order.
    pub const ALL: [MapSlot; 3] = [MapSlot::Attention, MapSlot::Gradcam, MapSlot::Chefer];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            MapSlot::Attention => "attention",
            MapSlot::Gradcam => "GradCAM",
            MapSlot::Chefer => "Chefer",
        }
    }

    /// Position in pane order (the overlay's texture layer, the project's opacity array).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The slot at `i` in pane order.
    pub fn from_index(i: usize) -> Option<MapSlot> {
        Self::ALL.get(i).copied()
    }
}

/// One `T` per map slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PerMap<T>([T; 3]);

impl<T> PerMap<T> {
    /// The values in pane order (attention, GradCAM, Chefer).
    pub const fn from_array(values: [T; 3]) -> Self {
        PerMap(values)
    }

    /// Builds each slot's value from the slot.
    pub fn from_fn(mut f: impl FnMut(MapSlot) -> T) -> Self {
        PerMap(MapSlot::ALL.map(&mut f))
    }

    /// Maps every value.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PerMap<U> {
        PerMap(self.0.map(f))
    }

    /// References to the values.
    pub fn as_ref(&self) -> PerMap<&T> {
        PerMap(self.0.each_ref())
    }

    /// (slot, value) in pane order.
    pub fn iter(&self) -> impl Iterator<Item = (MapSlot, &T)> {
        MapSlot::ALL.into_iter().zip(self.0.iter())
    }

    /// The values in pane order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
}

impl<T> PerMap<Option<T>> {
    /// No value in any slot.
    pub fn none() -> Self {
        PerMap([None, None, None])
    }

    /// Whether every slot is empty.
    pub fn all_none(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// The filled slots.
    pub fn present(&self) -> impl Iterator<Item = (MapSlot, &T)> {
        self.iter().filter_map(|(s, v)| Some((s, v.as_ref()?)))
    }
}

impl<T> Index<MapSlot> for PerMap<T> {
    type Output = T;
    fn index(&self, s: MapSlot) -> &T {
        &self.0[s.index()]
    }
}

impl<T> IndexMut<MapSlot> for PerMap<T> {
    fn index_mut(&mut self, s: MapSlot) -> &mut T {
        &mut self.0[s.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_index_their_values_in_pane_order() {
        let mut m = PerMap::from_fn(|s| s.name().len());
        assert_eq!(m[MapSlot::Gradcam], "GradCAM".len());
        m[MapSlot::Chefer] = 0;
        let v: Vec<_> = m.iter().map(|(s, v)| (s.index(), *v)).collect();
        assert_eq!(v, vec![(0, 9), (1, 7), (2, 0)]);
        assert_eq!(MapSlot::from_index(2), Some(MapSlot::Chefer));
        assert_eq!(MapSlot::from_index(3), None);
        let mut o = PerMap::<Option<u8>>::none();
        assert!(o.all_none());
        o[MapSlot::Attention] = Some(4);
        assert_eq!(
            o.present().collect::<Vec<_>>(),
            vec![(MapSlot::Attention, &4)]
        );
    }
}
