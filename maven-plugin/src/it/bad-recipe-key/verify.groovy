def log = new File(basedir, 'build.log').text
assert log.contains("unknown key 'expert' (did you mean 'experts'?)")
assert log.contains('BUILD FAILURE')
// nothing was written: no output, no work folder, no lock, no state
def work = new File(basedir, 'target/moekit')
assert !new File(work, 'mixtral-tiny-compressed').exists()
assert !new File(work, 'mixtral-tiny-compressed.work').exists()
assert !new File(work, 'mixtral-tiny-compressed.lock').exists()
assert !new File(work, 'compress-default.json').exists()
assert !log.contains('stage 1/1')
return true
