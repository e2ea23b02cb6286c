//! The project core: integrity of annotations.

mod integrity;
