//! Building blocks the views paint with, read-only like the views: `text` (one-line writes that
//! end in `…` when cut), `panel` (a bordered box with a title and a hint line), `table` (columns
//! named by an enum, fitted by priority to the width there is) and `styles` (the theme's style
//! for a health, a role, a lag, a connection, an orchestra's accent).

pub mod panel;
pub mod styles;
pub mod table;
pub mod text;

pub use panel::{accent_edge, panel};
pub use table::{Col, Table, col, flex, num, scroll, select_row};
pub use text::{clip_middle, put, put_right, wrap};
