// Package ci is narwhal's domain: jobs and their state machine, runners, and the
// contracts of the Store and the Queue that the agent, the dispatcher and
// runnerd share. It imports nothing of narwhal's and only the standard library,
// so every other package can depend on it.
package ci
