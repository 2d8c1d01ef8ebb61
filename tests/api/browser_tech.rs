//! Browser tests of the technician's day /tech (headless Chromium, axe-core).
