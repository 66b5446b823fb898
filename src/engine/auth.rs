//! Who may do what. The single permission check every command goes through.

use crate::protocol::{Command, Role};

pub fn authorize(role: Role, cmd: &Command) -> Result<(), String> {
    match role {
        Role::Trader => Ok(()),
        Role::Viewer if cmd.is_mutating() => Err(format!(
            "permission denied: viewers observe only; {} needs the trader role",
            cmd.kind()
        )),
        Role::Viewer => Ok(()),
    }
}
