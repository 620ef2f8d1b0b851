package queue

import "strings"

// TopicMatch reports whether routing key matches a topic binding pattern the
// way a RabbitMQ topic exchange does: words are separated by dots, "*"
// matches exactly one word and "#" matches zero or more words.
func TopicMatch(pattern, key string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(key, "."))
}

func matchWords(pat, key []string) bool {
	if len(pat) == 0 {
		return len(key) == 0
	}
	if pat[0] == "#" {
		// "#" swallows zero words, or one word and stays.
		return matchWords(pat[1:], key) || (len(key) > 0 && matchWords(pat, key[1:]))
	}
	if len(key) == 0 {
		return false
	}
	return (pat[0] == "*" || pat[0] == key[0]) && matchWords(pat[1:], key[1:])
}
