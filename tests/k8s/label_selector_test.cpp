#include <doctest/doctest.h>

#include "core/error.h"
#include "k8s/label_selector.h"

using namespace arl;
using namespace arl::k8s;
using json = nlohmann::json;

TEST_CASE("label selector operators") {
  json l = {{"app", "web"}, {"tier", "front"}, {"arl.infra.io/pod-state", "ready"}};
  CHECK(LabelSelector::parse("").matches(l));
  CHECK(LabelSelector::parse("app=web").matches(l));
  CHECK(LabelSelector::parse("app==web").matches(l));
  CHECK_FALSE(LabelSelector::parse("app=db").matches(l));
  CHECK(LabelSelector::parse("app!=db").matches(l));
  CHECK(LabelSelector::parse("missing!=x").matches(l));
  CHECK(LabelSelector::parse("app, tier").matches(l));
  CHECK_FALSE(LabelSelector::parse("app,missing").matches(l));
  CHECK(LabelSelector::parse("!missing").matches(l));
  CHECK_FALSE(LabelSelector::parse("!app").matches(l));
  CHECK(LabelSelector::parse("tier in (back, front)").matches(l));
  CHECK_FALSE(LabelSelector::parse("tier notin (back,front)").matches(l));
  CHECK(LabelSelector::parse("arl.infra.io/pod-state=ready,app in (web)").matches(l));
  CHECK_FALSE(LabelSelector::parse("app=web,tier=back").matches(l));
  CHECK_FALSE(LabelSelector::parse("app").matches(json()));
  CHECK(LabelSelector::parse("!app").matches(json()));
}

TEST_CASE("bad label selectors are refused with the selector in the message") {
  CHECK_THROWS_WITH_AS(LabelSelector::parse("a in (x"), doctest::Contains("a in (x"), Error);
  CHECK_THROWS_AS(LabelSelector::parse("a,,b"), Error);
  CHECK_THROWS_AS(LabelSelector::parse("a within (x)"), Error);
  CHECK_THROWS_AS(LabelSelector::parse("a b"), Error);
}

TEST_CASE("field selectors on dotted paths") {
  json pod = {{"metadata", {{"name", "p"}}}, {"spec", {{"nodeName", "n1"}}}, {"status", {{"phase", "Running"}}}};
  CHECK(FieldSelector::parse("spec.nodeName=n1").matches(pod));
  CHECK(FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed").matches(pod));
  CHECK_FALSE(FieldSelector::parse("metadata.name=q").matches(pod));
  CHECK(FieldSelector::parse("spec.missing=").matches(pod));
}
