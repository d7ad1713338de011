//! The two macros `types.rs` is written in: one invocation per enumeration
//! or identity base keeps the generated file short and the impls in one
//! place.

/// An enumeration type: `Name, "yang-name" { Variant = "YANG_NAME", .. }`.
macro_rules! yang_enum {
    ($(#[$doc:meta])* $name:ident, $yang:literal { $($variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(#[doc = $text] $variant,)*
        }

        impl $name {
            /// Every value, in schema order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The value as YANG names it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ModelError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err($crate::gen::rt::unknown($yang, s)),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::gen::rt::YangValue for $name {
            fn from_leaf(node: &::yang2::data::DataNodeRef<'_, '_>) -> Result<Self, $crate::ModelError> {
                $crate::gen::rt::parse(node, $yang)
            }

            fn to_text(&self) -> String {
                self.as_str().to_string()
            }
        }
    };
}

/// An identity base with the identities derived from it:
/// `Name, "module:BASE" { Variant = "module:IDENT" / "IDENT", .. }`.
macro_rules! yang_identity {
    ($(#[$doc:meta])* $name:ident, $yang:literal { $($variant:ident = $text:literal / $bare:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(#[doc = $text] $variant,)*
        }

        impl $name {
            /// Every identity, in schema order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The identity in RFC 7951 form, `module:IDENTITY`, as libyang
            /// prints and takes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The identity's bare name, without its module.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $bare,)*
                }
            }
        }

        /// Takes `module:IDENTITY`, or the bare name with any prefix or none
        /// (XML prefixes differ from module names).
        impl ::std::str::FromStr for $name {
            type Err = $crate::ModelError;

            #[allow(unreachable_patterns)]
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => return Ok($name::$variant),)*
                    _ => {}
                }
                match s.rsplit(':').next().unwrap_or(s) {
                    $($bare => Ok($name::$variant),)*
                    _ => Err($crate::gen::rt::unknown($yang, s)),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::gen::rt::YangValue for $name {
            fn from_leaf(node: &::yang2::data::DataNodeRef<'_, '_>) -> Result<Self, $crate::ModelError> {
                $crate::gen::rt::parse(node, $yang)
            }

            fn to_text(&self) -> String {
                self.as_str().to_string()
            }
        }
    };
}
