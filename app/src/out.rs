//! Writing to standard output without panicking when the reader goes away.
//!
//! `println!` panics if standard output is a closed pipe (`quire show X | head`). Output goes
//! through [`say!`] instead: when the pipe is closed the command simply stops, as `cat` would.

use std::io::Write;

/// Writes formatted text to standard output; exits quietly if the reader has gone.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // Nowhere left to report it; stop rather than print half an answer.
        std::process::exit(1);
    }
}

/// `println!` to standard output that stops quietly when the reader has gone.
macro_rules! say {
    () => { $crate::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` to standard output that stops quietly when the reader has gone.
macro_rules! say_raw {
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*)) };
}

pub(crate) use {say, say_raw};
