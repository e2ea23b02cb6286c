//! Reader studies: radiologists rate explanation maps shown blind and in random order, and the
//! study is analysed with the statistics reader studies publish (descriptives with t intervals,
//! pairwise preference with Wilson intervals and Bradley–Terry strengths, inter-reader agreement,
//! agreement of the ratings with the maps' metrics, localisation hit rates, and a long table for
//! MRMC software). The rules are those of the study specification
//! (`fixtures/agreement/README.md`); [`analyze`] reproduces its golden data.

pub mod agreement;
pub mod analyze;
pub mod design;
pub mod prepare;
pub mod reading;
pub mod responses;
pub mod session;
pub mod stats;
pub mod summary;
