//! How long the texts and tags a client sends may be, in characters. The server refuses a
//! message over a limit; nothing of it happens.

/// Longest chat message, in characters (Unicode scalar values).
pub const MAX_CHAT_CHARS: usize = 2_000;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 60;
/// Longest `ref` a client may attach, in characters.
pub const MAX_REF_CHARS: usize = 64;
/// Longest `client_id` a client may attach, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 64;
