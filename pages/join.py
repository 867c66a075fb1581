"""Join a class: a student's phone follows the lecturer's tour, answers each step and sees the reveal beside the
room's answers. Made for a 390-px-wide screen; the sidebar is not needed."""
from ui import classroom, require_entry

require_entry()
classroom.student_page()
