//! What checking a one-time code or token can end in, shared by Magic Auth codes, email
//! verification codes, password reset tokens, email change codes and MFA challenges.

/// Wrong attempts a code survives; the next check answers [`CodeError::TooManyAttempts`].
pub const MAX_ATTEMPTS: i32 = 5;

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// No live code matches (wrong code, or none was issued).
    Incorrect,
    /// The code matched but its lifetime is over.
    Expired,
    /// The code matched but was already used.
    PreviouslyUsed,
    /// Too many wrong attempts: the code no longer works.
    TooManyAttempts,
}

impl CodeError {
    /// The `authenticate` error code (WORKOS-API-NOTES §4.3).
    pub fn grant_code(self) -> &'static str {
        match self {
            Self::Incorrect => "invalid_one_time_code",
            Self::Expired => "one_time_code_expired",
            Self::PreviouslyUsed => "one_time_code_previously_used",
            Self::TooManyAttempts => "one_time_code_too_many_attempts",
        }
    }

    /// A human-readable message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Incorrect => "The code is incorrect.",
            Self::Expired => "The code has expired.",
            Self::PreviouslyUsed => "The code has already been used.",
            Self::TooManyAttempts => "Too many incorrect attempts; request a new code.",
        }
    }
}

/// Adds `minutes` to now.
pub fn expires_in(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::minutes(minutes)
}
