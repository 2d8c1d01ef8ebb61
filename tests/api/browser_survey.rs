//! Browser tests of the survey page /survey (headless Chromium, axe-core).
