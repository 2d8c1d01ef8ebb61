//! KPI targets: `data/kpi-targets.json`, defaults with whole-entry
//! overrides per region.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::kpi::{Kpi, Target};
use crate::places::Region;

#[derive(Debug, Clone, Deserialize)]
pub struct Targets {
    defaults: BTreeMap<Kpi, Target>,
    #[serde(default)]
    regions: BTreeMap<String, BTreeMap<Kpi, Target>>,
}

const SHIPPED: &str = include_str!("../../data/kpi-targets.json");

impl Targets {
    /// Unknown KPI names and region codes are errors, so a typo cannot
    /// silently drop a target.
    pub fn parse(json: &str) -> Result<Targets, String> {
        let mut v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if let Some(o) = v.as_object_mut() {
            o.remove("_doc");
        }
        let t: Targets = serde_json::from_value(v).map_err(|e| e.to_string())?;
        for code in t.regions.keys() {
            if code.parse::<Region>().is_err() {
                return Err(format!("regions: unknown region {code:?}"));
            }
        }
        Ok(t)
    }

    pub fn shipped() -> &'static Targets {
        static T: OnceLock<Targets> = OnceLock::new();
        T.get_or_init(|| {
            // Checked by a unit test on every build.
            Targets::parse(SHIPPED).unwrap_or(Targets {
                defaults: BTreeMap::new(),
                regions: BTreeMap::new(),
            })
        })
    }

    /// The target of `kpi` in `region` (the network's when `None`).
    pub fn of(&self, kpi: Kpi, region: Option<Region>) -> Option<&Target> {
        region
            .and_then(|r| self.regions.get(r.code()))
            .and_then(|m| m.get(&kpi))
            .or_else(|| self.defaults.get(&kpi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::kpi::Status;

    #[test]
    fn shipped_targets_parse_and_regions_override() {
        let t = Targets::parse(SHIPPED).unwrap();
        let nw = t
            .of(Kpi::FirstVisitMedianH, Some(Region::Northwest))
            .unwrap();
        assert!((nw.target - 12.0).abs() < 1e-9);
        let sw = t
            .of(Kpi::FirstVisitMedianH, Some(Region::Southwest))
            .unwrap();
        assert!((sw.target - 8.0).abs() < 1e-9);
        assert!(t.of(Kpi::JobsOpened, None).is_none());
        // 0.93 on-time: 0.02 short of 0.95, within 0.05: at risk.
        let on_time = t.of(Kpi::OnTimeRepairRate, None).unwrap();
        assert_eq!(on_time.status(0.95), Status::Met);
        assert_eq!(on_time.status(0.93), Status::AtRisk);
        assert_eq!(on_time.status(0.80), Status::Missed);
        // Lower is better: 10 h median against 8 h within 4 h: at risk.
        let median = t.of(Kpi::FirstVisitMedianH, None).unwrap();
        assert_eq!(median.status(7.0), Status::Met);
        assert_eq!(median.status(10.0), Status::AtRisk);
        assert_eq!(median.status(13.0), Status::Missed);
    }

    #[test]
    fn a_typo_is_refused() {
        assert!(Targets::parse(r#"{"defaults": {"on_time_rate": {"target": 1, "better": "higher", "at_risk_within": 0}}}"#).is_err());
        assert!(Targets::parse(r#"{"defaults": {}, "regions": {"westeros": {}}}"#).is_err());
    }
}
