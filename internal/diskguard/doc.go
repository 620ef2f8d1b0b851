// Package diskguard keeps a runner's disks from filling. A Guard watches the
// filesystems holding a set of paths (runnerd's work dir, its cache, Docker's
// data root; paths on the same filesystem count once) and, when any of them
// is fuller than the high watermark, evicts what its Evictors offer, least
// recently used first, until every watched filesystem is under the low
// watermark or nothing more can be evicted. Status says how full the
// fullest filesystem is and, while the guard is under pressure, why: the
// runner reports both in its heartbeat, and the dispatcher offers no jobs to
// a runner under pressure.
//
// The evictors of this package work on plain directories: Workspaces
// (leftover job directories) and Cache (entries of a cache, through plain
// funcs). The Docker evictors (unused images, dangling volumes) are in
// internal/executor/docker/dockerevict, beside the only other user of the
// Docker SDK.
package diskguard
