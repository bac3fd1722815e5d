// service/callback_guard.h: where a callback may be posted. The caller chooses the URL, so without
// a guard the worker would post into the cluster for anyone (the metadata server at
// 169.254.169.254, Redis, the API's own neighbours). Only http and https, only to public unicast
// addresses, checked after the name is resolved; the connection is then pinned to the address
// that was checked, so a DNS answer that changes in between (rebinding) cannot redirect it.
// Operators with in-cluster receivers allow private ranges (MSAAS_CALLBACK_ALLOW_PRIVATE=1).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace msaas::service {

struct CallbackTarget {
  std::string host;      // as in the URL, without brackets
  int port = 0;          // the URL's, or the scheme's default
  bool literal = false;  // the host is an address itself: nothing to resolve, nothing to pin
  std::vector<std::string> addresses;  // the checked addresses (IPv6 without brackets)
  // The CURLOPT_RESOLVE entry that makes the connection use only the checked addresses.
  std::string pin() const;
};

struct CallbackCheck {
  std::optional<CallbackTarget> target;  // set when the URL may be used
  std::string refusal;                   // why not, otherwise
  bool temporary = false;  // the name could not be resolved now: worth another try later
};

CallbackCheck check_callback_url(const std::string& url, bool allow_private);

// Whether a numeric address (IPv4 or IPv6 text) is public unicast: not loopback, private,
// link-local, carrier-grade NAT, multicast, documentation, unspecified or reserved.
bool is_public_address(const std::string& address);

}  // namespace msaas::service
