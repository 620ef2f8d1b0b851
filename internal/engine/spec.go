package engine

import (
	"maps"
	"slices"

	"github.com/narwhal-ci/narwhal/internal/executor"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// MissingSecretError says a step names a secret the job has no value for:
// one that does not exist, or one withheld because the job is a pull
// request from a fork (Job.Withheld).
type MissingSecretError struct {
	Name     string
	Withheld bool
}

func (e *MissingSecretError) Error() string {
	if e.Withheld {
		return "secret " + e.Name + " is not available to pull requests from forks"
	}
	return "secret " + e.Name + " does not exist"
}

// StepSpec builds what the executor runs for step s of job (job.Pipeline
// must be set). The environment is layered, later winning: the pipeline's
// env, the step's env, job.Env, the CI_* variables (CIVars), then the step's
// secrets. The image falls back to the pipeline's. It fails with a
// *MissingSecretError when job.Secrets lacks a secret the step names. Pure:
// the result shares no maps or slices with its inputs.
func StepSpec(job *Job, s *pipeline.Step) (executor.Step, error) {
	env := map[string]string{}
	maps.Copy(env, job.Pipeline.Env)
	maps.Copy(env, s.Env)
	maps.Copy(env, job.Env)
	maps.Copy(env, CIVars(job, s.Name))
	for _, name := range s.Secrets {
		v, ok := job.Secrets[name]
		if !ok {
			return executor.Step{}, &MissingSecretError{Name: name, Withheld: slices.Contains(job.Withheld, name)}
		}
		env[name] = v
	}
	image := s.Image
	if image == "" {
		image = job.Pipeline.Image
	}
	return executor.Step{
		Name:       s.Name,
		Image:      image,
		Commands:   slices.Clone(s.Commands),
		Env:        env,
		WorkingDir: s.WorkingDir,
		Timeout:    s.Timeout,
	}, nil
}

// CIVars returns the variables the engine sets for every step: CI=true,
// CI_JOB_ID, CI_COMMIT_BRANCH, CI_EVENT, CI_STEP_NAME and CI_WORKSPACE.
func CIVars(job *Job, step string) map[string]string {
	return map[string]string{
		"CI":               "true",
		"CI_JOB_ID":        job.ID,
		"CI_COMMIT_BRANCH": job.Branch,
		"CI_EVENT":         job.Event,
		"CI_STEP_NAME":     step,
		"CI_WORKSPACE":     executor.Workdir,
	}
}
