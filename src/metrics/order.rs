//! The tie rule of every ranking: pixels by value, descending; equal values by ascending
//! row-major index (`numpy.argsort(-v, kind='stable')`).

/// Numeric order (-0 equals +0, as in numpy); maps are finite, checked by the callers.
fn cmp(a: f32, b: f32) -> std::cmp::Ordering {
    a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
}

/// Pixel indices, most relevant first.
pub fn descending(map: &[f32]) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..map.len() as u32).collect();
    // A stable sort keeps ascending indices among equal values.
    idx.sort_by(|&a, &b| cmp(map[b as usize], map[a as usize]));
    idx
}

/// Pixel indices, least relevant first: the tie rule on `-map` (ascending value, equal values
/// still by ascending index).
pub fn ascending(map: &[f32]) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..map.len() as u32).collect();
    idx.sort_by(|&a, &b| cmp(map[a as usize], map[b as usize]));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_ascending_indices_both_ways() {
        let m = [0.5, 1.0, 0.5, 0.0, 1.0];
        assert_eq!(descending(&m), vec![1, 4, 0, 2, 3]);
        assert_eq!(ascending(&m), vec![3, 0, 2, 1, 4]);
    }
}
