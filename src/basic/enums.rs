//! Closed sets of names (`string_enum!`), so query parameters, CSV cells,
//! database columns and JSON agree on one spelling.

/// Generates a closed string enum with snake_case names, `FromStr`, `Display`
/// and an `ALL` list. Expects `FieldError`, `Serialize`, `Deserialize` and
/// `ToSchema` in scope where it is used.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::basic::FieldError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::basic::FieldError::new(
                        stringify!($name).to_ascii_lowercase(),
                        format!(
                            "unknown value {other:?}; expected one of: {}",
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }
    };
}
pub(crate) use string_enum;
