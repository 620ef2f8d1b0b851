// Package workspace prepares the directory a job runs in: a per-job directory
// under a root (NewDir), filled either by cloning a repository at an exact
// commit with the git CLI (Clone) or by copying a working tree (Copy, for
// `narwhal exec`), and removed afterwards (Remove) or after a crash (Sweep).
//
// Ownership: steps running in containers may create files owned by root in a
// workspace. Remove can only delete them when the runner may do so, so runnerd
// runs as root (or the Docker executor runs steps as the runner's user); a
// runner that is merely in the docker group cannot delete root-owned files in
// directories it does not own.
package workspace
