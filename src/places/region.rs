//! The seven service regions of the network, each a fixed set of provinces
//! (by the two-digit adcode prefix).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::basic::{Adcode, FieldError};

/// A regional operations centre's territory.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    North,
    Northeast,
    East,
    Central,
    South,
    Southwest,
    Northwest,
}

impl Region {
    pub const ALL: [Region; 7] = [
        Region::North,
        Region::Northeast,
        Region::East,
        Region::Central,
        Region::South,
        Region::Southwest,
        Region::Northwest,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Region::North => "north",
            Region::Northeast => "northeast",
            Region::East => "east",
            Region::Central => "central",
            Region::South => "south",
            Region::Southwest => "southwest",
            Region::Northwest => "northwest",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Region::North => "华北",
            Region::Northeast => "东北",
            Region::East => "华东",
            Region::Central => "华中",
            Region::South => "华南",
            Region::Southwest => "西南",
            Region::Northwest => "西北",
        }
    }

    /// Two-digit province prefixes of the region (GB/T 2260).
    pub fn province_codes(self) -> &'static [u32] {
        match self {
            // 北京 天津 河北 山西 内蒙古
            Region::North => &[11, 12, 13, 14, 15],
            // 辽宁 吉林 黑龙江
            Region::Northeast => &[21, 22, 23],
            // 上海 江苏 浙江 安徽 福建 江西 山东
            Region::East => &[31, 32, 33, 34, 35, 36, 37],
            // 河南 湖北 湖南
            Region::Central => &[41, 42, 43],
            // 广东 广西 海南
            Region::South => &[44, 45, 46],
            // 重庆 四川 贵州 云南 西藏
            Region::Southwest => &[50, 51, 52, 53, 54],
            // 陕西 甘肃 青海 宁夏 新疆
            Region::Northwest => &[61, 62, 63, 64, 65],
        }
    }

    /// The region of a mainland adcode; `None` for Taiwan, Hong Kong and
    /// Macau, which the network does not serve.
    pub fn of_adcode(a: Adcode) -> Option<Region> {
        let p = a.province_code();
        Region::ALL
            .into_iter()
            .find(|r| r.province_codes().contains(&p))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Region {
    type Err = FieldError;
    /// Accepts the code (`east`) or the Chinese name (`华东`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Region::ALL
            .into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(s) || r.name_zh() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "region",
                    format!(
                        "unknown region {s:?}; expected one of: {}",
                        Region::ALL.map(Region::code).join(", ")
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mainland_province_is_in_exactly_one_region() {
        let mainland = [
            11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50,
            51, 52, 53, 54, 61, 62, 63, 64, 65,
        ];
        for p in mainland {
            let n = Region::ALL
                .iter()
                .filter(|r| r.province_codes().contains(&p))
                .count();
            assert_eq!(n, 1, "province {p}");
        }
        assert_eq!(Region::of_adcode(Adcode::parse("710000").unwrap()), None);
    }

    #[test]
    fn parses_code_and_chinese_name() {
        assert_eq!("华东".parse::<Region>().unwrap(), Region::East);
        assert_eq!("East".parse::<Region>().unwrap(), Region::East);
        assert!("atlantis".parse::<Region>().is_err());
    }
}
