//! The warranty decision for a return or repair request.
//!
//! Day-boundary semantics: day 0 is the purchase day (Asia/Shanghai calendar
//! date). "Within N days" means days 0..=N, so a no-reason return is accepted
//! on day 7 and refused on day 8; a quality return on day 15, an exchange on
//! days 16..=30. "3 months" is calendar months via chrono (`checked_add_months`,
//! which clamps to the month's last day: 2025-11-30 + 3 months = 2026-02-28);
//! free repair covers every date up to and including that day.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Damage, ItemCondition, RequestKind};
use super::policy::WarrantyPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Return,
    Exchange,
    FreeRepair,
    PaidRepair,
    /// Nothing is owed: a no-reason return that does not qualify.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarrantyInput {
    pub purchase_date: NaiveDate,
    pub request: RequestKind,
    pub damage: Damage,
    pub item: ItemCondition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WarrantyDecision {
    pub decision: Decision,
    /// A sentence for the agent to read out, Chinese then English.
    pub reason: String,
    pub days_since_purchase: i64,
    /// Last day of free repair (inclusive).
    pub free_repair_until: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarrantyError {
    #[error("purchase_date {purchase} is after today ({today})")]
    PurchaseInFuture {
        purchase: NaiveDate,
        today: NaiveDate,
    },
}

/// Why the item cannot be returned or exchanged, if it cannot (first reason).
fn exclusion(input: &WarrantyInput) -> Option<&'static str> {
    if input.damage == Damage::Customer {
        Some("人为损坏 customer-caused damage")
    } else if input.item.custom_made {
        Some("定制商品 custom-made item")
    } else if input.item.special_price {
        Some("特价商品 special-price item")
    } else if !input.item.packaging_complete {
        Some("包装、配件或保修卡不全 packaging, accessories or warranty card missing")
    } else {
        None
    }
}

pub fn decide(
    policy: &WarrantyPolicy,
    input: &WarrantyInput,
    today: NaiveDate,
) -> Result<WarrantyDecision, WarrantyError> {
    if input.purchase_date > today {
        return Err(WarrantyError::PurchaseInFuture {
            purchase: input.purchase_date,
            today,
        });
    }
    let days = (today - input.purchase_date).num_days();
    let free_until = input
        .purchase_date
        .checked_add_months(Months::new(policy.free_repair_months))
        .unwrap_or(NaiveDate::MAX);
    let excluded = exclusion(input);
    let (decision, reason) = match input.request {
        RequestKind::NoReasonReturn => {
            let limit = i64::from(policy.no_reason_return_days);
            if days > limit {
                (
                    Decision::None,
                    format!("购买第{days}天，已超过{limit}天无理由退货期限。Day {days} after purchase: past the {limit}-day no-reason return window."),
                )
            } else if let Some(why) = excluded {
                (
                    Decision::None,
                    format!("{why}，不支持无理由退货。No no-reason return: {why}."),
                )
            } else if !input.item.resalable {
                (
                    Decision::None,
                    "商品已影响二次销售，不支持无理由退货。No no-reason return: the item cannot be resold.".to_owned(),
                )
            } else {
                (
                    Decision::Return,
                    format!("购买第{days}天，{limit}天内无理由退货。Day {days}: no-reason return within {limit} days."),
                )
            }
        }
        RequestKind::QualityProblem => {
            let ret = i64::from(policy.quality_return_days);
            let exch = i64::from(policy.quality_exchange_days);
            let months = policy.free_repair_months;
            if input.damage == Damage::Customer {
                (
                    Decision::PaidRepair,
                    "人为损坏，付费维修。Customer-caused damage: paid repair.".to_owned(),
                )
            } else if excluded.is_none() && days <= ret {
                (
                    Decision::Return,
                    format!("购买第{days}天，质量问题{ret}天内可退货。Day {days}: quality problem, return within {ret} days."),
                )
            } else if excluded.is_none() && days <= exch {
                (
                    Decision::Exchange,
                    format!("购买第{days}天，质量问题{}-{exch}天内可换货。Day {days}: quality problem, exchange on days {}-{exch}.", ret + 1, ret + 1),
                )
            } else if today <= free_until {
                let prefix = match excluded {
                    Some(why) if days <= exch => format!("{why}，不退不换；"),
                    _ => String::new(),
                };
                (
                    Decision::FreeRepair,
                    format!("{prefix}购买{months}个月内（至{free_until}）免费维修。Free repair within {months} months of purchase (until {free_until})."),
                )
            } else {
                (
                    Decision::PaidRepair,
                    format!("已超过{months}个月免费维修期（{free_until}止），付费维修。Past the {months}-month free repair period (ended {free_until}): paid repair."),
                )
            }
        }
    };
    Ok(WarrantyDecision {
        decision,
        reason,
        days_since_purchase: days,
        free_repair_until: free_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::policy::Policy;

    const OK: ItemCondition = ItemCondition {
        resalable: true,
        packaging_complete: true,
        custom_made: false,
        special_price: false,
    };

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn run(
        purchase: &str,
        today: &str,
        request: RequestKind,
        damage: Damage,
        item: ItemCondition,
    ) -> Decision {
        let p = Policy::embedded().warranty;
        let input = WarrantyInput {
            purchase_date: d(purchase),
            request,
            damage,
            item,
        };
        decide(&p, &input, d(today)).unwrap().decision
    }

    #[test]
    fn boundaries_table() {
        use Decision::*;
        use RequestKind::{NoReasonReturn as NR, QualityProblem as QP};
        let no_pack = ItemCondition {
            packaging_complete: false,
            ..OK
        };
        let custom = ItemCondition {
            custom_made: true,
            ..OK
        };
        let special = ItemCondition {
            special_price: true,
            ..OK
        };
        let used = ItemCondition {
            resalable: false,
            ..OK
        };
        // Purchase 2026-03-01; +3 months = 2026-06-01.
        let p = "2026-03-01";
        let cases: &[(&str, RequestKind, Damage, ItemCondition, Decision)] = &[
            ("2026-03-01", NR, Damage::None, OK, Return), // day 0
            ("2026-03-08", NR, Damage::None, OK, Return), // day 7
            ("2026-03-09", NR, Damage::None, OK, None),   // day 8
            ("2026-03-02", NR, Damage::None, used, None),
            ("2026-03-02", NR, Damage::None, no_pack, None),
            ("2026-03-02", NR, Damage::None, custom, None),
            ("2026-03-02", NR, Damage::None, special, None),
            ("2026-03-02", NR, Damage::Customer, OK, None),
            ("2026-03-16", QP, Damage::None, OK, Return), // day 15
            ("2026-03-17", QP, Damage::None, OK, Exchange), // day 16
            ("2026-03-31", QP, Damage::None, OK, Exchange), // day 30
            ("2026-04-01", QP, Damage::None, OK, FreeRepair), // day 31
            ("2026-05-31", QP, Damage::None, OK, FreeRepair), // 3 months - 1 day
            ("2026-06-01", QP, Damage::None, OK, FreeRepair), // exactly 3 months
            ("2026-06-02", QP, Damage::None, OK, PaidRepair), // 3 months + 1 day
            // A used-looking item with a quality problem can still be returned.
            ("2026-03-05", QP, Damage::None, used, Return),
            // Exclusions: no return or exchange, free repair up to 3 months.
            ("2026-03-01", QP, Damage::None, no_pack, FreeRepair),
            ("2026-03-17", QP, Damage::None, custom, FreeRepair),
            ("2026-03-10", QP, Damage::None, special, FreeRepair),
            ("2026-06-01", QP, Damage::None, special, FreeRepair),
            ("2026-06-02", QP, Damage::None, no_pack, PaidRepair),
            // Customer damage is always paid.
            ("2026-03-01", QP, Damage::Customer, OK, PaidRepair),
            ("2026-04-20", QP, Damage::Customer, OK, PaidRepair),
        ];
        for (i, (today, req, dmg, item, want)) in cases.iter().enumerate() {
            assert_eq!(
                run(p, today, *req, *dmg, *item),
                *want,
                "case {i}: {today} {req} {dmg} {item:?}"
            );
        }
    }

    #[test]
    fn month_end_clamps() {
        // 2025-11-30 + 3 months = 2026-02-28 (no Feb 30).
        let qp = RequestKind::QualityProblem;
        assert_eq!(
            run("2025-11-30", "2026-02-28", qp, Damage::None, OK),
            Decision::FreeRepair
        );
        assert_eq!(
            run("2025-11-30", "2026-03-01", qp, Damage::None, OK),
            Decision::PaidRepair
        );
    }

    #[test]
    fn future_purchase_is_an_error_and_reason_is_readable() {
        let p = Policy::embedded().warranty;
        let mut input = WarrantyInput {
            purchase_date: d("2026-05-02"),
            request: RequestKind::QualityProblem,
            damage: Damage::None,
            item: OK,
        };
        assert!(matches!(
            decide(&p, &input, d("2026-05-01")),
            Err(WarrantyError::PurchaseInFuture { .. })
        ));
        input.purchase_date = d("2026-04-01");
        let out = decide(&p, &input, d("2026-04-20")).unwrap();
        assert_eq!(out.days_since_purchase, 19);
        assert_eq!(out.decision, Decision::Exchange);
        assert!(
            out.reason.contains("exchange") && out.reason.contains("换货"),
            "{}",
            out.reason
        );
        assert_eq!(out.free_repair_until, d("2026-07-01"));
    }
}
