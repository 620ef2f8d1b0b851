package ci

import "time"

// CacheUse is what one step did with its cache (narwhal.yml's cache: key,
// paths, restore_keys), as the job's record lists it.
type CacheUse struct {
	// Key is the step's cache key with its template rendered
	// ("go-3f2a…-amd64").
	Key string `json:"key"`
	// Hit is true when an entry under Key itself was restored.
	Hit bool `json:"hit"`
	// Restored is the key of the entry restored: Key on a hit, the newest
	// entry matching a restore_keys prefix on a partial hit, "" on a miss.
	Restored string `json:"restored,omitempty"`
	// RestoredBytes is the size of the restored archive.
	RestoredBytes int64 `json:"restored_bytes,omitempty"`
	// Saved is true when the step succeeded after a miss (or a partial hit)
	// and its paths were saved under Key; SavedBytes is the archive's size.
	Saved      bool  `json:"saved,omitempty"`
	SavedBytes int64 `json:"saved_bytes,omitempty"`
	// Error says, for people, why a restore or save did not happen (it
	// never fails the step).
	Error string `json:"error,omitempty"`
}

// Artifact is one file a step uploaded (narwhal.yml's artifacts: paths,
// expire_in), as the job's record lists it.
type Artifact struct {
	// Name is the file's path in the workspace, "/"-separated
	// ("dist/app.tar.gz"): unique within a job, the name it is downloaded by.
	Name   string `json:"name"`
	Step   string `json:"step"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
	// Key is where the artifact store (internal/blob) holds it.
	Key       string    `json:"key"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Artifacts are every artifact of the job's steps, in step order.
func (j *Job) Artifacts() []Artifact {
	var out []Artifact
	for _, s := range j.Steps {
		out = append(out, s.Artifacts...)
	}
	return out
}
