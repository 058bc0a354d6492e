w2s_add_script_test(resume ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_resume.py)
w2s_add_script_test(memory ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_memory.py)
w2s_add_script_test(identity ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_identity.py)
