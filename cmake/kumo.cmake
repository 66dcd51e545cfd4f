# Helpers shared by every part's CMakeLists.txt.

# Warnings as errors, for our own targets only (not for third-party headers).
function(kumo_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()

# kumo_test(name sources...): a GoogleTest binary registered with ctest.
function(kumo_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main Threads::Threads)
  kumo_warnings(${name})
  include(GoogleTest)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
endfunction()
