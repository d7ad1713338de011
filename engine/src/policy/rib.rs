//! A [`Chain`] as the RIB's [`RoutePolicy`].

use super::{Chain, RouteIn};
use crate::rib::{Attrs, Interner, PolicyRoute, RoutePolicy};

impl RoutePolicy for Chain {
    fn apply(&self, route: &PolicyRoute<'_>, interner: &mut Interner) -> Option<Attrs> {
        let route = RouteIn {
            prefix: route.prefix,
            attrs: route.attrs,
            source: route.source,
            target: route.target,
            local_asn: route.local_asn,
            vrps: Some(route.vrps),
        };
        self.evaluate(&route, interner).accepted()
    }

    fn depends_on_target(&self) -> bool {
        Chain::depends_on_target(self)
    }
}
