// Default runtime options of the sanitizers, linked into every executable of a KR_SANITIZE build
// (CMakeLists.txt). The runtimes call these hooks at start-up; *SAN_OPTIONS in the environment are
// applied after them, so a developer can still change any single option.
//
// Not a test: it lives here next to the suppression files it names.

#ifndef KR_SANITIZERS_DIR
#error "KR_SANITIZERS_DIR names the directory of the suppression files"
#endif

extern "C" {

// detect_stack_use_after_return: a callback that outlives the frame whose locals it captured by
// reference is reported, not silently reading a reused stack slot.
// check_initialization_order / strict_init_order: static initialisers that read another file's
// statics before they are built.
const char* __asan_default_options() {
    return "detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:detect_leaks=1";
}

const char* __lsan_default_options() { return "print_suppressions=0:suppressions=" KR_SANITIZERS_DIR "/lsan.supp"; }

const char* __ubsan_default_options() {
    return "print_stacktrace=1:halt_on_error=1:suppressions=" KR_SANITIZERS_DIR "/ubsan.supp";
}

// Every race is reported (not only the first); the process then exits with 66.
const char* __tsan_default_options() {
    return "second_deadlock_stack=1:print_suppressions=0:suppressions=" KR_SANITIZERS_DIR "/tsan.supp";
}

}  // extern "C"
