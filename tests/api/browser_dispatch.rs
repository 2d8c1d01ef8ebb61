//! The /dispatch page in a real headless Chromium.
