//! Image and DICOM reading.

mod dicom;
