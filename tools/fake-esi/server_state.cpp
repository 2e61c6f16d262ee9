#include "server_state.hpp"

#include <algorithm>
#include <utility>

#include "http_util.hpp"

namespace fakeesi {

ServerState::ServerState(Options o)
    : opts(std::move(o)),
      uni([&] {
          UniverseParams p = opts.universe;
          if (p.samples_dir.empty() && opts.load_samples) p.samples_dir = DefaultSamplesDir();
          if (!opts.load_samples) p.samples_dir.clear();
          return p;
      }()),
      start_ms(NowMs()),
      errlim(opts.error_limit, std::max(1, opts.error_window_seconds), start_ms),
      kmbucket(opts.killmail_bucket_tokens, std::max(1, opts.killmail_bucket_window_seconds)),
      zkblim(opts.zkb_rate),
      r2z2(uni, opts.r2z2, start_ms),
      r2z2lim(opts.r2z2.poll_rate),
      history(uni, opts.history) {
    cache_seconds = opts.cache_seconds;
    zkb_full = opts.zkb_format == "full";
    zkb_page_size = std::max(1, opts.zkb_page_size);
    zkb_max_page = std::max(1, opts.zkb_max_page);
    zkb_missing_slash_status = opts.zkb_missing_slash_status;
    error_headers_everywhere = opts.error_headers_on_bucket_routes;
    faults.Set(opts.faults);
    if (opts.storm_seconds > 0) storm_until_ms = start_ms + opts.storm_seconds * 1000LL;
}

}  // namespace fakeesi
