/*  placeholder: being written  */
