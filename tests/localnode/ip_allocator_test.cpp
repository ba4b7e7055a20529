#include <doctest/doctest.h>

#include <set>

#include "core/error.h"
#include "localnode/ip_allocator.h"

using namespace arl::localnode;

TEST_CASE("localnode: IPv4 parse and format round trip") {
  CHECK(format_ipv4(parse_ipv4("198.18.0.2")) == "198.18.0.2");
  CHECK(parse_ipv4("0.0.0.1") == 1u);
  CHECK(parse_ipv4("198.18.1.0") == ((198u << 24) | (18u << 16) | (1u << 8)));
  for (const char* bad : {"198.18.0", "198.18.0.256", "198.18.0.1.2", "a.b.c.d", "198.18.0.1 ", "", "1..2.3"}) {
    CHECK_THROWS_AS(parse_ipv4(bad), arl::Error);
  }
}

TEST_CASE("localnode: pod CIDR must stay inside 198.18.0.0/15") {
  auto c = parse_pod_cidr("198.18.0.0/16");
  CHECK(c.str() == "198.18.0.0/16");
  CHECK(c.size() == 65536u);
  CHECK(parse_pod_cidr("198.19.0.0/24").str() == "198.19.0.0/24");
  CHECK(parse_pod_cidr("198.18.0.0/15").size() == 131072u);
  CHECK_THROWS_WITH_AS(parse_pod_cidr("10.0.0.0/16"), doctest::Contains("outside 198.18.0.0/15"), arl::Error);
  CHECK_THROWS_AS(parse_pod_cidr("198.20.0.0/16"), arl::Error);
  CHECK_THROWS_AS(parse_pod_cidr("198.16.0.0/14"), arl::Error);  // wider than the reserved range
  CHECK_THROWS_WITH_AS(parse_pod_cidr("198.18.0.1/16"), doctest::Contains("host bits"), arl::Error);
  CHECK_THROWS_AS(parse_pod_cidr("198.18.0.0"), arl::Error);
  CHECK_THROWS_AS(parse_pod_cidr("198.18.0.0/31"), arl::Error);
}

TEST_CASE("localnode: allocator hands out unique IPs from .2, host end is .1") {
  IpAllocator a(parse_pod_cidr("198.18.0.0/16"));
  CHECK(format_ipv4(a.host_ip()) == "198.18.0.1");
  CHECK(format_ipv4(a.allocate("ns/p0")) == "198.18.0.2");
  std::set<uint32_t> seen{*a.ip_of("ns/p0")};
  for (int i = 1; i < 300; ++i) {
    auto ip = a.allocate("ns/p" + std::to_string(i));
    CHECK(seen.insert(ip).second);
    CHECK(a.cidr().contains(ip));
  }
  CHECK(a.in_use() == 300);
  CHECK(format_ipv4(a.high_water()) == "198.18.1.45");  // .2 + 299
  // The same owner gets its IP back instead of a second one.
  CHECK(a.allocate("ns/p7") == parse_ipv4("198.18.0.9"));
  CHECK(a.in_use() == 300);
}

TEST_CASE("localnode: released IPs come back only after the cursor wraps") {
  IpAllocator a(parse_pod_cidr("198.18.0.0/29"));  // .2 .. .6: five pod IPs
  for (int i = 0; i < 5; ++i) a.allocate("p" + std::to_string(i));
  CHECK_THROWS_WITH_AS(a.allocate("p5"), doctest::Contains("exhausted"), arl::Error);
  a.release("p1");  // .3
  a.release("p3");  // .5
  CHECK(format_ipv4(a.allocate("q1")) == "198.18.0.3");
  CHECK(format_ipv4(a.allocate("q2")) == "198.18.0.5");
  CHECK_THROWS_AS(a.allocate("q3"), arl::Error);
  CHECK(a.in_use() == 5);
  a.release("nobody");  // unknown owners are ignored
  CHECK(a.in_use() == 5);
}

TEST_CASE("localnode: next-fit does not reuse a just-released IP while others are free") {
  IpAllocator a(parse_pod_cidr("198.18.0.0/24"));
  auto first = a.allocate("a");
  a.release("a");
  CHECK(a.allocate("b") != first);
}

TEST_CASE("localnode: reserve keeps a restarted pod's IP and refuses conflicts") {
  IpAllocator a(parse_pod_cidr("198.18.0.0/24"));
  CHECK(a.reserve("ns/old", parse_ipv4("198.18.0.50")));
  CHECK(a.reserve("ns/old", parse_ipv4("198.18.0.50")));  // idempotent
  CHECK_FALSE(a.reserve("ns/other", parse_ipv4("198.18.0.50")));
  CHECK_FALSE(a.reserve("ns/x", parse_ipv4("198.18.0.1")));    // host end
  CHECK_FALSE(a.reserve("ns/x", parse_ipv4("198.18.0.255")));  // broadcast
  CHECK_FALSE(a.reserve("ns/x", parse_ipv4("198.18.1.7")));    // outside
  CHECK_FALSE(a.reserve("ns/old", parse_ipv4("198.18.0.51")));  // owner already has one
  for (int i = 0; i < 100; ++i) CHECK(a.allocate("n" + std::to_string(i)) != parse_ipv4("198.18.0.50"));
}
