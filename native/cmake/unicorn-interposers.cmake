# Whether the Unicorn addon is built with the interposers of
# src/unicorn/qemu_hooks.cc (spec/runtime.md, "The Unicorn engine").
#
# They replace internal functions of libunicorn with those functions' own
# signatures, which are not part of its API and change between releases
# (QEMU inside is rebased). So they are built only for the exact release
# they were written for and checked against; any other version builds
# src/unicorn/qemu_hooks_off.cc instead and runs without them (slower
# stores, fault addresses at the start of a translated block).
#
# Included by native/CMakeLists.txt; test/unicorn-interposers-build.test.ts
# drives these functions through `cmake -P` as well.

set(ZEROVM_UNICORN_INTERPOSERS_FOR "2.0.1")

# zerovm_unicorn_header_version(<header> <out-var>)
# The version unicorn.h declares with UC_VERSION_MAJOR, _MINOR, _PATCH (2.x
# defines them through UC_API_*; a name is looked up once), "-rcN" appended
# when UC_VERSION_EXTRA is not 255 (a release candidate); "" when the header
# cannot be read or declares no version.
function(zerovm_unicorn_header_version header out)
  set(${out} "" PARENT_SCOPE)
  if(NOT EXISTS "${header}")
    return()
  endif()
  file(STRINGS "${header}" defines REGEX "^[ \t]*#[ \t]*define[ \t]+UC_(API|VERSION)_[A-Z]+[ \t]")
  foreach(line IN LISTS defines)
    if(line MATCHES "define[ \t]+(UC_[A-Z]+_[A-Z]+)[ \t]+([A-Za-z0-9_]+)")
      set(value_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
    endif()
  endforeach()
  foreach(part MAJOR MINOR PATCH EXTRA)
    set(value "${value_UC_VERSION_${part}}")
    if(value MATCHES "^UC_" AND DEFINED value_${value})
      set(value "${value_${value}}")
    endif()
    if(NOT value MATCHES "^[0-9]+$" AND NOT part STREQUAL "EXTRA")
      return()
    endif()
    set(${part} "${value}")
  endforeach()
  set(version "${MAJOR}.${MINOR}.${PATCH}")
  if(EXTRA MATCHES "^[0-9]+$" AND NOT EXTRA EQUAL 255)
    string(APPEND version "-rc${EXTRA}")
  endif()
  set(${out} "${version}" PARENT_SCOPE)
endfunction()

# zerovm_unicorn_interposers(<version> <on-var> <why-var>)
# <on-var>: TRUE when <version> is exactly the one the interposers are for;
# <why-var>: the reason, for the configure summary.
function(zerovm_unicorn_interposers version on why)
  if(version STREQUAL ZEROVM_UNICORN_INTERPOSERS_FOR)
    set(${on} TRUE PARENT_SCOPE)
    set(${why} "interposers on: written for libunicorn ${ZEROVM_UNICORN_INTERPOSERS_FOR}" PARENT_SCOPE)
  elseif(version STREQUAL "")
    set(${on} FALSE PARENT_SCOPE)
    set(${why} "interposers off: the libunicorn version is unknown and they are for ${ZEROVM_UNICORN_INTERPOSERS_FOR} only (the engine runs without their repairs)" PARENT_SCOPE)
  else()
    set(${on} FALSE PARENT_SCOPE)
    set(${why} "interposers off: they replace internals of libunicorn ${ZEROVM_UNICORN_INTERPOSERS_FOR} only, and this is ${version} (the engine runs without their repairs)" PARENT_SCOPE)
  endif()
endfunction()
