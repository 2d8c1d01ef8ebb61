//! Roles and API tokens (pure: no storage). A token carries exactly one role;
//! only its SHA-256 is ever stored.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::basic::string_enum;

string_enum!(
    /// What a token may do. `admin` may do everything.
    Role {
        Agent => "agent",
        Dispatcher => "dispatcher",
        Manager => "manager",
        Admin => "admin",
    }
);

impl Role {
    /// Whether this role satisfies an endpoint that accepts `allowed`.
    pub fn is_allowed(self, allowed: &[Role]) -> bool {
        self == Role::Admin || allowed.contains(&self)
    }
}

/// A new random token: `rn_` and 64 hex digits (256 bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("rn_{}", hex::encode(bytes))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 67);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn admin_passes_every_check_others_only_their_own() {
        assert!(Role::Admin.is_allowed(&[Role::Dispatcher]));
        assert!(Role::Agent.is_allowed(&[Role::Agent, Role::Dispatcher]));
        assert!(!Role::Manager.is_allowed(&[Role::Agent]));
    }
}
