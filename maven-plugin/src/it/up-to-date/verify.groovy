// build.log holds the three builds in order
def builds = new File(basedir, 'build.log').text.split(/Scanning for projects/)
assert builds.size() == 4 : 'three builds in build.log'
def first = builds[1], second = builds[2], third = builds[3]

assert first.contains('moekit:compress runs: no earlier run recorded')
assert first.contains('kept 36 of 48 routed experts (stun)')
assert first.contains('moekit:evaluate evaluates ')

// the second build skipped all three goals and said why
assert second =~ /moekit:compress is up to date: recipe, input, data and version unchanged since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/
assert second =~ /moekit:evaluate is up to date: settings, output, input, data and version unchanged since \d{4}-\d\d-\d\dT/
assert second =~ /moekit:verify-checkpoint is up to date: settings, checkpoint and version unchanged since \d{4}-\d\d-\d\dT/
assert !second.contains('moekit: wrote ') && !second.contains('moekit:evaluate evaluates ') && !second.contains('verify-checkpoint checks')

// the third build ran the new recipe over the output the first one wrote (no <replace> needed), then the rest
assert third =~ /moekit:compress runs: recipe changed since the last run \(\d{4}-/
assert third.contains('kept 24 of 48 routed experts (stun)')
assert third.contains('is out of date')
assert third.contains('verify-checkpoint checks ')
assert third.contains('BUILD SUCCESS')

def state = new File(basedir, 'target/moekit/compress-tiny.json').text
assert state.contains('"recipe"') && state.contains('"input"') && state.contains('"data"') && state.contains('"version"')
return true
