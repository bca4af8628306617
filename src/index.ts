// The public API for writing models and checking them.
export {
  int,
  bool,
  enumOf,
  ptr,
  nodeptr,
  spinlock,
  listHead,
  listNode,
  record,
  array,
  flags,
  bitOf,
  protectedBy,
  ghost,
  SchemaError,
} from "./model/schema.ts";
export type {
  Schema,
  RecordS,
  ArrayS,
  Fields,
  FlagsS,
  BitS,
  IntS,
  BoolS,
  EnumS,
  PtrS,
  NodePtrS,
  LockS,
  ListHeadS,
  GhostableS,
} from "./model/schema.ts";
export type { BitRef, FlagsRef } from "./model/ref.ts";
export { Ref } from "./model/ref.ts";
export type { RecordRef, ArrayRef, PtrRef, RefOf } from "./model/ref.ts";
export { READ_ONCE, WRITE_ONCE, data_race } from "./model/view.ts";
export type { ViewOf, ListView } from "./model/view.ts";
export {
  step,
  when,
  boolResult,
  wait_until,
  if_,
  while_,
  loop,
  either,
  break_,
  continue_,
  return_,
  func,
  label,
  goto_,
  check,
  assert_,
  warn_on,
  not,
  for_,
  withoutSites,
} from "./model/dsl.ts";
export type { Ctx, Stmt, StepStmt, StepOptions, Cond, Label, Raise } from "./model/dsl.ts";
export { defineModel, ModelBuilder, compileModel, AnyModelBuilder } from "./model/model.ts";
export type {
  ModelDef,
  CompiledModel,
  CompiledThread,
  Expect,
  World,
  CpuView,
  Predicate,
  VariantDecl,
  BuildArgs,
  ThreadRefs,
  ModelOptions,
  PropertyDecl,
} from "./model/model.ts";
export { parseOps, formatOps } from "./model/params.ts";
export type {
  IntParamDecl,
  OpsParamDecl,
  OpDecl,
  OpArgDecl,
  Op,
  ParamDecl,
  ParamValue,
  ParamValues,
} from "./model/params.ts";
export { NULL, LIST_POISON1, LIST_POISON2 } from "./model/layout.ts";
export { Violation, ModelError } from "./rt/mem.ts";
export type { Severity } from "./rt/mem.ts";
export { explore } from "./explore/explorer.ts";
export type { ExploreOptions } from "./explore/explorer.ts";
export { exploreParallel, ExplorePool, defaultWorkers } from "./explore/parallel.ts";
export type { ModelSource, ParallelOptions } from "./explore/parallel.ts";
export type { CheckResult, Verdict, ViolationReport } from "./explore/result.ts";
// The exhaustive checker as a library call, and helpers that fail a test with the race diagram.
export { checkModel, checkVariant, explain } from "./check.ts";
export type { Checked, CheckOptions } from "./check.ts";
export {
  expectHolds,
  expectAsDeclared,
  checkMatchers,
  describeChecked,
  CheckFailure,
} from "./expect.ts";
// Kernel primitives beyond list_head/spinlock: folios, refcounts, flags, counters, the deferred
// split queue, and the property catalogue.
export * from "./kernel/folio.ts";
export * from "./kernel/catalogue.ts";
export * from "./kernel/memcg.ts";
export * from "./kernel/list_lru.ts";
export * from "./kernel/list.ts";
export * from "./kernel/spinlock.ts";
export * from "./kernel/huge_memory.ts";
export * from "./kernel/pagevec.ts";
export * from "./kernel/pgtable.ts";
export * from "./kernel/rmap.ts";
export * from "./kernel/migrate.ts";
export * from "./kernel/rwsem.ts";
export { kernelLocal } from "./model/model.ts";
