package rpc

import (
	"math"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc/runnerpb"
)

// The pure translations between the Go types and the generated ones.

func jobToPB(j Job) *runnerpb.RunRequest {
	return &runnerpb.RunRequest{
		JobId: j.ID, Attempt: clampInt32(j.Attempt), Repo: j.Repo, CloneUrl: j.CloneURL,
		Sha: j.SHA, Ref: j.Ref, Branch: j.Branch, Event: string(j.Event), Pr: int64(j.PR),
		Fork: j.Fork, Labels: j.Labels, Secrets: j.Secrets, CloneToken: j.CloneToken,
		WithheldSecrets: j.Withheld, Registries: registriesToPB(j.Registries),
		Resume:       resumeToPB(j.Resume),
		ChangedFiles: j.ChangedFiles, ChangedKnown: j.ChangedKnown,
	}
}

func resumeToPB(r *ci.Resume) *runnerpb.Resume {
	if r == nil {
		return nil
	}
	return &runnerpb.Resume{From: r.From, Done: r.Done, Snapshot: r.Snapshot}
}

func resumeFromPB(r *runnerpb.Resume) *ci.Resume {
	if r == nil {
		return nil
	}
	return &ci.Resume{From: r.GetFrom(), Done: r.GetDone(), Snapshot: r.GetSnapshot()}
}

func jobFromPB(r *runnerpb.RunRequest) Job {
	return Job{
		ID: r.GetJobId(), Attempt: int(r.GetAttempt()), Repo: r.GetRepo(), CloneURL: r.GetCloneUrl(),
		SHA: r.GetSha(), Ref: r.GetRef(), Branch: r.GetBranch(), Event: ci.Event(r.GetEvent()),
		PR: int(r.GetPr()), Fork: r.GetFork(), Labels: r.GetLabels(), Secrets: r.GetSecrets(),
		CloneToken: r.GetCloneToken(), Withheld: r.GetWithheldSecrets(),
		Registries:   registriesFromPB(r.GetRegistries()),
		Resume:       resumeFromPB(r.GetResume()),
		ChangedFiles: r.GetChangedFiles(), ChangedKnown: r.GetChangedKnown(),
	}
}

func registriesToPB(rs []RegistryAuth) []*runnerpb.RegistryAuth {
	var out []*runnerpb.RegistryAuth
	for _, r := range rs {
		out = append(out, &runnerpb.RegistryAuth{Host: r.Host, Username: r.Username, Password: r.Password})
	}
	return out
}

func registriesFromPB(rs []*runnerpb.RegistryAuth) []RegistryAuth {
	var out []RegistryAuth
	for _, r := range rs {
		out = append(out, RegistryAuth{Host: r.GetHost(), Username: r.GetUsername(), Password: r.GetPassword()})
	}
	return out
}

func statsToPB(s Stats) *runnerpb.StatsResponse {
	return &runnerpb.StatsResponse{
		RunnerId: s.RunnerID, Capacity: clampInt32(s.Capacity), RunningJobIds: s.Running,
		LoadAverage: s.LoadAverage, FreeDiskBytes: s.FreeDiskBytes, Labels: s.Labels,
		State: stateToPB(s.State), Version: s.Version,
	}
}

func statsFromPB(r *runnerpb.StatsResponse) Stats {
	return Stats{
		RunnerID: r.GetRunnerId(), Capacity: int(r.GetCapacity()), Running: r.GetRunningJobIds(),
		LoadAverage: r.GetLoadAverage(), FreeDiskBytes: r.GetFreeDiskBytes(), Labels: r.GetLabels(),
		State: stateFromPB(r.GetState()), Version: r.GetVersion(),
	}
}

func stateToPB(s ci.RunnerState) runnerpb.RunnerState {
	switch s {
	case ci.RunnerActive:
		return runnerpb.RunnerState_RUNNER_STATE_ACTIVE
	case ci.RunnerDraining:
		return runnerpb.RunnerState_RUNNER_STATE_DRAINING
	}
	return runnerpb.RunnerState_RUNNER_STATE_UNSPECIFIED
}

func stateFromPB(s runnerpb.RunnerState) ci.RunnerState {
	switch s {
	case runnerpb.RunnerState_RUNNER_STATE_ACTIVE:
		return ci.RunnerActive
	case runnerpb.RunnerState_RUNNER_STATE_DRAINING:
		return ci.RunnerDraining
	}
	return ""
}

// deadlineSeconds rounds a drain deadline up to whole seconds, so a deadline
// never shrinks on the wire.
func deadlineSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func clampInt32(n int) int32 {
	return int32(max(math.MinInt32, min(n, math.MaxInt32)))
}
