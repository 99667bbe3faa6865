//! Discovery: one listing per filter, page after page, fetched by a producer task a bounded number of
//! pages and bytes ahead of the planning, and the sentences that say how a listing failed.

use super::*;

/// Listing pages fetched ahead of the planning and writing: at most this many...
pub(super) const LISTING_AHEAD_PAGES: usize = 4;
/// ...holding at most this many bytes as received (a page of repos with long file lists is large);
/// one page is always let through whatever its size.
pub(super) const LISTING_AHEAD_BYTES: usize = 8 << 20;

/// What the listing producer hands the run.
pub(super) enum ListingEvent {
    /// A page, and its share of [`LISTING_AHEAD_BYTES`], given back once the page is planned.
    Page(crate::hub::Page, tokio::sync::OwnedSemaphorePermit),
    /// The filter's listing stopped at this page; the producer goes on with the next filter.
    Failed { filter: String, error: HubError },
}

impl Syncer {
    /// Fetches the listings of every filter, one page after another, into a queue a few pages deep,
    /// so the Hub (and the parsing of its pages) keeps going while the run plans and writes. The
    /// listing stops when the receiver is dropped or the handle is.
    pub(super) fn spawn_listing(&self) -> (mpsc::Receiver<ListingEvent>, AbortOnDropHandle<()>) {
        let (tx, rx) = mpsc::channel(LISTING_AHEAD_PAGES);
        let ahead = Arc::new(tokio::sync::Semaphore::new(LISTING_AHEAD_BYTES >> 10));
        let hub = self.hub.clone();
        let filters = self.config.filters.clone();
        let producer = tokio::spawn(async move {
            // A repo listed by several filters is decoded once (the run sees each object id once).
            let mut seen = HashSet::new();
            for filter in filters {
                // The next page is requested as soon as the current one has arrived, before it is
                // decoded: the Hub prepares the next while this one is read.
                let fetch = |url: url::Url| {
                    let hub = hub.clone();
                    AbortOnDropHandle::new(tokio::spawn(
                        async move { hub.list_page_raw(&url).await },
                    ))
                };
                let mut next = Some(fetch(hub.listing_url(&filter, LISTING_EXPAND)));
                let mut first = true;
                while let Some(handle) = next.take() {
                    let fetched = handle.await.unwrap_or_else(|e| {
                        Err(HubError::Transport(format!("listing task failed: {e}")))
                    });
                    // The page's share of the bytes ahead (in KiB), waited for before it is decoded.
                    let budget = match &fetched {
                        Ok(raw) => {
                            let kib = (raw.len_bytes() >> 10).clamp(1, LISTING_AHEAD_BYTES >> 10);
                            match ahead.clone().acquire_many_owned(kib as u32).await {
                                Ok(permit) => Some(permit),
                                Err(_) => return,
                            }
                        }
                        Err(_) => None,
                    };
                    let fetched = fetched.and_then(|raw| {
                        next = raw.next.clone().map(fetch);
                        raw.decode_fresh(&mut seen)
                    });
                    let mut unreachable = false;
                    let event = match (fetched, budget) {
                        (Ok(page), Some(budget)) => ListingEvent::Page(page, budget),
                        (Ok(_), None) => unreachable!("a fetched page has its budget"),
                        (Err(error), _) => {
                            // This filter's listing ends here; when its first request got no answer
                            // at all after its retries, the Hub is out of reach for the others too.
                            next = None;
                            unreachable = first
                                && matches!(error, HubError::Transport(_) | HubError::Timeout);
                            ListingEvent::Failed {
                                filter: filter.clone(),
                                error,
                            }
                        }
                    };
                    first = false;
                    if tx.send(event).await.is_err() || unreachable {
                        return;
                    }
                }
            }
        });
        (rx, AbortOnDropHandle::new(producer))
    }

    /// One sentence per distinct failure of the filters' listings. A Hub that served no page at all
    /// (`nothing`) and only failed to answer is said once, with what to check.
    pub(super) fn describe_listing_failures(
        &self,
        failures: &[(String, HubError)],
        nothing: bool,
    ) -> Vec<String> {
        if nothing
            && !failures.is_empty()
            && failures
                .iter()
                .all(|(_, e)| matches!(e, HubError::Transport(_) | HubError::Timeout))
        {
            let endpoint = self.hub.config().endpoint.as_str().trim_end_matches('/');
            return vec![format!(
                "{} (HF_ENDPOINT={endpoint}); check the network and HF_ENDPOINT — offline, \
                 `pocket-catalog hubsim` serves a simulated Hub",
                failures[0].1
            )];
        }
        let mut by_error: Vec<(String, Vec<&str>)> = Vec::new();
        for (filter, error) in failures {
            let error = error.to_string();
            match by_error.iter_mut().find(|(e, _)| *e == error) {
                Some((_, filters)) => filters.push(filter),
                None => by_error.push((error, vec![filter])),
            }
        }
        by_error
            .into_iter()
            .map(|(error, filters)| {
                let names: Vec<String> = filters.iter().map(|f| format!("'{f}'")).collect();
                let noun = if names.len() == 1 {
                    "listing"
                } else {
                    "listings"
                };
                format!("{noun} {} stopped early: {error}", names.join(", "))
            })
            .collect()
    }
}
