//! The /agent page in a real headless Chromium.
