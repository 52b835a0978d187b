//! brume-mio: the mio driver (see issue 5).
