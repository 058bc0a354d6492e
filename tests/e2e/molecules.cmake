w2s_add_script_test(molecules ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_molecules.py)
set_tests_properties(e2e.molecules PROPERTIES SKIP_RETURN_CODE 77)
